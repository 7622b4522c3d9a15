/**
 * Checks that a JSON API answer conforms to the contract: a 200 body to the path's response
 * schema, any other status to the error body `{status, type, title}` with the same status.
 */
import { STATUS_CODES } from 'node:http';
import { apiResponseValidator } from '../api/response-validators.ts';

/** Why `body` is not a valid answer of `path` with `status`, or undefined when it is. */
export function apiResponseProblem(path: string, status: number, body: unknown): string | undefined {
  if (status !== 200) {
    if (typeof body !== 'object' || body === null)
      return `error body is not an object: ${JSON.stringify(body)}`;
    const keys = Object.keys(body).sort().join(',');
    if (keys !== 'status,title,type') return `error body keys are ${keys}`;
    const error = body as { status: unknown; type: unknown; title: unknown };
    if (error.status !== status)
      return `error body status ${String(error.status)} differs from HTTP ${status}`;
    if (error.type !== STATUS_CODES[status]) return `error body type ${String(error.type)} for ${status}`;
    if (typeof error.title !== 'string' || error.title === '')
      return 'error body title is not a non-empty string';
    return undefined;
  }
  const validate = apiResponseValidator(path);
  if (!validate) return `no such path in the contract: ${path}`;
  if (validate(body)) return undefined;
  return `response does not match the contract: ${JSON.stringify(validate.errors)}`;
}
