/**
 * Request bodies are validated against the API contract's own schemas, hardened with the master's
 * text rules (request-rules.ts) so that absurd strings are a 400 like any other contract violation.
 * The validators are ajv's standalone code, generated from the schemas (request-schemas.ts,
 * `npm run api:validators`): a master neither loads ajv's compiler nor compiles a schema to start.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { SlapError } from '../../core/errors.ts';
import { REQUEST_VALIDATORS } from './generated-request-validators.ts';

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'body' : `body${error.instancePath}`;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    return `${where} must NOT have additional properties ('${String(params.additionalProperty)}' was unexpected)`;
  }
  return `${where} ${error.message ?? 'is invalid'}`;
}

export type BodyValidator = (body: unknown) => void;

// Standalone validators carry `errors` like compiled ones, not the compiler's `schema`/`schemaEnv`.
const generated = REQUEST_VALIDATORS as unknown as Readonly<Record<string, ValidateFunction>>;

/** Every path of the contract files (stable, experimental, our extensions). */
export const REQUEST_PATHS: readonly string[] = Object.keys(generated);

/** The validator of `path`'s request body (throws SLAP_ERR_INVALID_INPUT), undefined for an unknown path. */
export function requestValidator(path: string): BodyValidator | undefined {
  if (!Object.hasOwn(generated, path)) return undefined;
  const validate = generated[path];
  if (validate === undefined) return undefined;
  return (body) => {
    if (validate(body)) return;
    const first = validate.errors?.[0];
    throw new SlapError('SLAP_ERR_INVALID_INPUT', first ? describe(first) : 'body is invalid');
  };
}
