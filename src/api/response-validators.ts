/**
 * Validators of the success (200) answers of every JSON API path (stable and experimental files,
 * and our extensions). The client checks every answer with them; tests check the master's. Each is
 * compiled the first time its path is used: compiling all of them costs a one-shot command about
 * 70 ms more than compiling the one it calls.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { loadApiSpec, loadExperimentalApiSpec, loadExtensionApiSpec } from './index.ts';

type PathItem = ReturnType<typeof loadApiSpec>['paths'][string];

let ajv: Ajv | undefined;
let paths: Record<string, PathItem> | undefined;
const validators = new Map<string, ValidateFunction>();

/** The validator of `path`'s 200 answer, or undefined for a path the contract does not have. */
export function apiResponseValidator(path: string): ValidateFunction | undefined {
  const known = validators.get(path);
  if (known) return known;
  paths ??= {
    ...loadApiSpec().paths,
    ...loadExperimentalApiSpec().paths,
    ...loadExtensionApiSpec().paths,
  };
  if (!Object.hasOwn(paths, path)) return undefined;
  const schema = paths[path]?.post.responses['200']?.content?.['application/json'].schema;
  if (!schema) throw new Error(`no 200 response schema for ${path}`);
  // Several schemas of the contract share an `$id`; each is compiled on its own.
  const { $id: _id, ...rest } = schema;
  ajv ??= new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(rest);
  validators.set(path, validate);
  return validate;
}
