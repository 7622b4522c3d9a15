/**
 * Named placeholders for queries built once with Kysely and run many times: `param('node')` stands
 * for a value bound at each run, by name. A compiled query's parameters are a mix of placeholders
 * and constants the builder inlined; `boundValues` turns run-time arguments into the positional list.
 */

class Param {
  readonly name: string;
  /** A multi-row INSERT's placeholder: the column `name` of row `row` of the argument ROWS. */
  readonly row: number | undefined;
  constructor(name: string, row?: number) {
    this.name = name;
    this.row = row;
  }
}

/** The argument holding the rows of a multi-row INSERT (`rowParam`), an array of row objects. */
export const ROWS = 'rows';

/** A named placeholder, typed as the column value it stands for. */
export function param<T = string>(name: string): T {
  return new Param(name) as unknown as T;
}

/** The placeholder of column `column` of the `row`-th row of the argument ROWS (batch-insert.ts). */
export function rowParam<T = unknown>(column: string, row: number): T {
  return new Param(column, row) as unknown as T;
}

export type QueryArgs = Readonly<Record<string, unknown>>;

/** The positional parameters of a compiled query, resolved against each run's arguments. */
export class BoundParameters {
  /** Per positional parameter: the name of a placeholder, or undefined for a constant. */
  private readonly names: readonly (string | undefined)[];
  /** Per positional parameter: the row of ROWS it reads, or undefined. */
  private readonly rows: readonly (number | undefined)[];
  private readonly constants: readonly unknown[];

  constructor(
    parameters: readonly unknown[],
    private readonly sqlText: string,
  ) {
    this.names = parameters.map((value) => (value instanceof Param ? value.name : undefined));
    this.rows = parameters.map((value) => (value instanceof Param ? value.row : undefined));
    this.constants = parameters.map((value) => (value instanceof Param ? undefined : value));
  }

  values(args: QueryArgs): unknown[] {
    const values = new Array<unknown>(this.names.length);
    for (let i = 0; i < values.length; i++) {
      const name = this.names[i];
      if (name === undefined) {
        values[i] = this.constants[i];
        continue;
      }
      const row = this.rows[i];
      const value =
        row === undefined
          ? args[name]
          : (args[ROWS] as readonly Readonly<Record<string, unknown>>[] | undefined)?.[row]?.[name];
      if (value === undefined) throw new Error(`query parameter ${name} missing for: ${this.sqlText}`);
      values[i] = value;
    }
    return values;
  }
}
