/**
 * Queries built once with Kysely's query builder, compiled once, and run as prepared statements.
 * Kysely's own SQLite driver prepares every query again on each execution; the master's hot paths
 * cannot afford that. Values are named placeholders (`param('node')`) bound at each run.
 */
import type { Compilable } from 'kysely';
import type { Database, Statement } from 'better-sqlite3';

class Param {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

/** A named placeholder, typed as the column value it stands for. */
export function param<T = string>(name: string): T {
  return new Param(name) as unknown as T;
}

export type QueryArgs = Readonly<Record<string, unknown>>;

export class PreparedQuery<Row> {
  readonly sql: string;
  private readonly statement: Statement<unknown[], Row>;
  /** Per positional parameter: the name of a placeholder, or undefined for a constant. */
  private readonly names: readonly (string | undefined)[];
  private readonly constants: readonly unknown[];

  constructor(sqlite: Database, query: Compilable) {
    const compiled = query.compile();
    this.sql = compiled.sql;
    this.statement = sqlite.prepare<unknown[], Row>(compiled.sql);
    this.names = compiled.parameters.map((value) => (value instanceof Param ? value.name : undefined));
    this.constants = compiled.parameters.map((value) => (value instanceof Param ? undefined : value));
  }

  private values(args: QueryArgs): unknown[] {
    const values = new Array<unknown>(this.names.length);
    for (let i = 0; i < values.length; i++) {
      const name = this.names[i];
      if (name === undefined) {
        values[i] = this.constants[i];
        continue;
      }
      const value = args[name];
      if (value === undefined) throw new Error(`query parameter ${name} missing for: ${this.sql}`);
      values[i] = value;
    }
    return values;
  }

  all(args: QueryArgs = {}): Row[] {
    return this.statement.all(this.values(args));
  }

  get(args: QueryArgs = {}): Row | undefined {
    return this.statement.get(this.values(args));
  }

  run(args: QueryArgs = {}): number {
    return this.statement.run(this.values(args)).changes;
  }

  /** Runs an INSERT and returns the new row's rowid (cheaper than RETURNING in SQLite). */
  insert(args: QueryArgs = {}): number {
    return Number(this.statement.run(this.values(args)).lastInsertRowid);
  }
}
