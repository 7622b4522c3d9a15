/**
 * What the Kysely repository (kysely-repository.ts, kysely-identities.ts) needs of a store's
 * connection inside one transaction. Each query is named by a key: the store compiles `build()`
 * once per key with its dialect and keeps it prepared; `args` bind its `param()` placeholders.
 */
import type { Compilable } from 'kysely';
import type { QueryArgs } from './query-params.ts';

export interface SqlExecutor {
  all: <Row>(key: string, build: () => Compilable, args?: QueryArgs) => Promise<Row[]>;
  get: <Row>(key: string, build: () => Compilable, args?: QueryArgs) => Promise<Row | undefined>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run: (key: string, build: () => Compilable, args?: QueryArgs) => Promise<number>;
  /** Runs a plain INSERT (no RETURNING) of one row into a table with an `id`; resolves to that id. */
  insert: (key: string, build: () => Compilable, args?: QueryArgs) => Promise<number>;
  /**
   * Runs `work` so that a statement failing inside it can be caught and the transaction go on
   * (a savepoint where a failed statement would abort the whole transaction).
   */
  recoverable: <T>(work: () => Promise<T>) => Promise<T>;
}

const SQLITE_CONSTRAINTS: Readonly<Record<string, 'unique' | 'foreign key'>> = {
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique',
  SQLITE_CONSTRAINT_UNIQUE: 'unique',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign key',
};

/** SQLSTATE codes of PostgreSQL's integrity constraint violations. */
const POSTGRES_CONSTRAINTS: Readonly<Record<string, 'unique' | 'foreign key'>> = {
  '23505': 'unique',
  '23503': 'foreign key',
};

/** Which constraint a failed statement violated, whatever the store. */
export function constraintViolation(error: unknown): 'unique' | 'foreign key' | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  return SQLITE_CONSTRAINTS[code] ?? POSTGRES_CONSTRAINTS[code];
}
