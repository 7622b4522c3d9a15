/**
 * How this project reads the JSON schemas software releases publish (`software.cfg.json` and the
 * `instance-*-input-schema.json` it names), in one place for the node's
 * `slapconfiguration.jsonschema` recipe and the master's request form: the ajv class chosen by the
 * schema's `$schema` dialect, and draft-04/06 schemas read as draft-07 (ajv 8 has no draft-04 mode).
 */
import { createContext, Script, type Context } from 'node:vm';
import { Ajv, type CodeOptions, type ErrorObject, type Options } from 'ajv';

type RegExpEngine = NonNullable<CodeOptions['regExp']>;
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The ajv instance for the schema's dialect (2020-12, 2019-09, draft-07 for anything else). */
export function ajvForDialect(schema: JsonObject, options: Options): Ajv {
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (dialect.includes('2020-12')) return new Ajv2020(options);
  if (dialect.includes('2019-09')) return new Ajv2019(options);
  return new Ajv(options);
}

/**
 * A copy of the schema with its location as `$id` (the base of its relative references; with
 * `replaceId` even when it declares another one) and draft-04/06 read as draft-07.
 */
export function normaliseSchema(
  schema: JsonObject,
  location: string,
  { replaceId = false }: { replaceId?: boolean } = {},
): JsonObject {
  const copy: JsonObject = { ...schema };
  if (replaceId || copy.$id === undefined) copy.$id = location;
  if (typeof copy.$schema === 'string' && /draft-0[46]/.test(copy.$schema)) delete copy.$schema;
  return copy;
}

/** The decoded segments of an ajv `instancePath` (`/a/b~1c` → `['a', 'b/c']`). */
export function instancePathSegments(instancePath: string): string[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** `$.a[0].b: message` lines, as the recipe reports invalid parameters. */
export function formatSchemaErrors(errors: readonly ErrorObject[]): string[] {
  return errors.map((error) => {
    const path = instancePathSegments(error.instancePath)
      .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
      .join('');
    return `$${path}: ${error.message ?? error.keyword}`;
  });
}

/** A schema's `pattern` that did not finish matching in time (catastrophic backtracking). */
export class PatternTimeoutError extends Error {
  constructor(readonly pattern: string) {
    super(`the pattern ${JSON.stringify(pattern.slice(0, 200))} takes too long to match`);
    this.name = 'PatternTimeoutError';
  }
}

let patternContext: Context | undefined;
const PATTERN_TEST = new Script('pattern.test(text)');

/**
 * An ajv regular expression engine whose matches are interrupted after `timeoutMs` (a
 * PatternTimeoutError): a hostile schema's pattern (`(a+)+$`) must not hold the process.
 */
export function interruptibleRegExp(timeoutMs: number): RegExpEngine {
  const engine = (pattern: string, flags: string) => {
    const regexp = new RegExp(pattern, flags);
    return {
      test(text: string): boolean {
        const context = (patternContext ??= createContext({}));
        context.pattern = regexp;
        context.text = text;
        try {
          return PATTERN_TEST.runInContext(context, { timeout: timeoutMs }) === true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT')
            throw new PatternTimeoutError(pattern);
          throw error;
        } finally {
          context.pattern = undefined;
          context.text = undefined;
        }
      },
    };
  };
  return Object.assign(engine, { code: 'interruptibleRegExp' });
}
