/**
 * Named placeholders for queries built once with Kysely and run many times: `param('node')` stands
 * for a value bound at each run, by name. A compiled query's parameters are a mix of placeholders
 * and constants the builder inlined; `boundValues` turns run-time arguments into the positional list.
 */

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

/** The positional parameters of a compiled query, resolved against each run's arguments. */
export class BoundParameters {
  /** Per positional parameter: the name of a placeholder, or undefined for a constant. */
  private readonly names: readonly (string | undefined)[];
  private readonly constants: readonly unknown[];

  constructor(
    parameters: readonly unknown[],
    private readonly sqlText: string,
  ) {
    this.names = parameters.map((value) => (value instanceof Param ? value.name : undefined));
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
      const value = args[name];
      if (value === undefined) throw new Error(`query parameter ${name} missing for: ${this.sqlText}`);
      values[i] = value;
    }
    return values;
  }
}
