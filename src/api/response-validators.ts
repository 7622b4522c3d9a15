/**
 * Validators of the success (200) answers of every JSON API path, compiled once from the contract
 * (stable and experimental files, and our extensions). The client checks every answer with them; tests check the master's.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { loadApiSpec, loadExperimentalApiSpec, loadExtensionApiSpec } from './index.ts';

let validators: Map<string, ValidateFunction> | undefined;

/** Path → validator of its 200 answer. */
export function apiResponseValidators(): ReadonlyMap<string, ValidateFunction> {
  if (validators) return validators;
  const ajv = new Ajv({ strict: false, allErrors: true });
  const compiled = new Map<string, ValidateFunction>();
  const paths = {
    ...loadApiSpec().paths,
    ...loadExperimentalApiSpec().paths,
    ...loadExtensionApiSpec().paths,
  };
  for (const [path, item] of Object.entries(paths)) {
    const schema = item.post.responses['200']?.content?.['application/json'].schema;
    if (!schema) throw new Error(`no 200 response schema for ${path}`);
    // Several schemas of the contract share an `$id`; each is compiled on its own.
    const { $id: _id, ...rest } = schema;
    compiled.set(path, ajv.compile(rest));
  }
  validators = compiled;
  return validators;
}
