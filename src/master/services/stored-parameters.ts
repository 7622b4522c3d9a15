/**
 * Parameter dictionaries as the master stores them: parameter XML of at most
 * MAX_PARAMETER_XML_BYTES, SLA as JSON of at most MAX_SLA_JSON_BYTES (real ones: a few keys). Real
 * SlapOS instances pass tens of kB of parameters at most (certificates, JSON configurations serialised
 * into one parameter); the cap leaves ten times that, and keeps what one request writes to SQLite,
 * reads back and answers (all synchronous work) to a few milliseconds (docs/master.md, "Limits").
 */
import { SlapError } from '../../core/errors.ts';
import { encodeParameterXml } from '../../core/parameter-xml.ts';
import { stringifyPythonJson } from '../../core/python-value.ts';

export const MAX_PARAMETER_XML_BYTES = 256 * 1024;
export const MAX_SLA_JSON_BYTES = 64 * 1024;

function tooLarge(what: string, bytes: string, max: number): SlapError {
  return new SlapError(
    'SLAP_ERR_PAYLOAD_TOO_LARGE',
    `${what} take ${bytes} bytes stored; at most ${max} are.`,
  );
}

/** `text` when its UTF-8 bytes are at most `max`, else SLAP_ERR_PAYLOAD_TOO_LARGE (413) naming `what`. */
export function bounded(text: string, max: number, what: string): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > max) throw tooLarge(what, String(bytes), max);
  return text;
}

/** Characters of the keys and string values: no more than the UTF-8 bytes of the XML they become. */
function textLength(parameters: Readonly<Record<string, unknown>>): number {
  let length = 0;
  for (const key in parameters) {
    const value = parameters[key];
    length += key.length + (typeof value === 'string' ? value.length : 0);
  }
  return length;
}

const PARAMETERS = 'The parameters (as parameter XML)';

/** The parameter XML to store for `parameters`; SLAP_ERR_PAYLOAD_TOO_LARGE (413) past the cap. */
export function storableParameterXml(parameters: Readonly<Record<string, unknown>>): string {
  // Refused before encoding (a pass over up to 1 MiB) when the text alone is over the cap.
  const length = textLength(parameters);
  if (length > MAX_PARAMETER_XML_BYTES)
    throw tooLarge(PARAMETERS, `more than ${length}`, MAX_PARAMETER_XML_BYTES);
  return bounded(encodeParameterXml(parameters), MAX_PARAMETER_XML_BYTES, PARAMETERS);
}

/** The SLA JSON to store (Python number types kept); SLAP_ERR_PAYLOAD_TOO_LARGE (413) past the cap. */
export function storableSlaJson(sla: Readonly<Record<string, unknown>>): string {
  return bounded(stringifyPythonJson(sla), MAX_SLA_JSON_BYTES, 'The SLA parameters (as JSON)');
}
