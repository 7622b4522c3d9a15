/**
 * Validators of the success (200) answers of every JSON API path (stable and experimental files,
 * and our extensions). The client checks every answer with them; tests check the master's. They are
 * generated code (generated-response-validators.ts, see response-validators-codegen.ts): a client
 * command loads neither ajv's compiler nor the contract files to check one answer.
 */
import type { ValidateFunction } from 'ajv';
import { RESPONSE_VALIDATORS } from './generated-response-validators.ts';

// Standalone validators carry `errors` like compiled ones, not the compiler's `schema`/`schemaEnv`.
const validators = RESPONSE_VALIDATORS as unknown as Readonly<Record<string, ValidateFunction>>;

/** The validator of `path`'s 200 answer, or undefined for a path the contract does not have. */
export function apiResponseValidator(path: string): ValidateFunction | undefined {
  return Object.hasOwn(validators, path) ? validators[path] : undefined;
}
