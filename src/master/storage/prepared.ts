/**
 * Queries built once with Kysely's query builder, compiled once, and run as prepared statements on
 * SQLite. Kysely's own SQLite driver prepares every query again on each execution; the master's hot
 * paths cannot afford that. Values are named placeholders (`param('node')`) bound at each run.
 */
import type { Compilable } from 'kysely';
import type { Database, Statement } from 'better-sqlite3';
import { BoundParameters, type QueryArgs } from './query-params.ts';

export class PreparedQuery<Row> {
  readonly sql: string;
  private readonly statement: Statement<unknown[], Row>;
  private readonly parameters: BoundParameters;

  constructor(sqlite: Database, query: Compilable) {
    const compiled = query.compile();
    this.sql = compiled.sql;
    this.statement = sqlite.prepare<unknown[], Row>(compiled.sql);
    this.parameters = new BoundParameters(compiled.parameters, compiled.sql);
  }

  all(args: QueryArgs = {}): Row[] {
    return this.statement.all(this.parameters.values(args));
  }

  get(args: QueryArgs = {}): Row | undefined {
    return this.statement.get(this.parameters.values(args));
  }

  run(args: QueryArgs = {}): number {
    return this.statement.run(this.parameters.values(args)).changes;
  }

  /** Runs an INSERT and returns the new row's rowid (cheaper than RETURNING in SQLite). */
  insert(args: QueryArgs = {}): number {
    return Number(this.statement.run(this.parameters.values(args)).lastInsertRowid);
  }
}
