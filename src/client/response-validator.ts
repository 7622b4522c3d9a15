/**
 * Checks the master's answers against the response schemas of the JSON API contract, so that a
 * master answering something else fails with a clear error instead of surprising the caller later.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { loadApiSpec, loadExperimentalApiSpec, type ApiPath } from '../api/index.ts';

export type ResponseCheck = { ok: true } | { ok: false; problems: string };

export interface ResponseValidator {
  check(path: ApiPath, body: unknown): ResponseCheck;
}

export function createResponseValidator(): ResponseValidator {
  const ajv = new Ajv({ strict: false, allErrors: false });
  const schemas = new Map<string, Record<string, unknown>>();
  for (const spec of [loadApiSpec(), loadExperimentalApiSpec()]) {
    for (const [path, item] of Object.entries(spec.paths)) {
      const schema = item.post.responses['200']?.content?.['application/json'].schema;
      if (schema) schemas.set(path, schema);
    }
  }
  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (path: string): ValidateFunction | undefined => {
    let validate = compiled.get(path);
    if (validate) return validate;
    const schema = schemas.get(path);
    if (!schema) return undefined;
    // Several schemas of the spec share an `$id`; each is compiled on its own.
    const { $id: _id, ...anonymous } = schema;
    validate = ajv.compile(anonymous);
    compiled.set(path, validate);
    return validate;
  };
  return {
    check(path, body) {
      const validate = validatorFor(path);
      if (!validate || validate(body)) return { ok: true };
      return { ok: false, problems: ajv.errorsText(validate.errors, { dataVar: 'answer' }) };
    },
  };
}
