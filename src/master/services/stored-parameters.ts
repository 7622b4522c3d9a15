/**
 * Parameter dictionaries as the master stores them: parameter XML of at most
 * MAX_PARAMETER_XML_BYTES, SLA as JSON of at most MAX_SLA_JSON_BYTES (real ones: a few keys). Real SlapOS instances pass tens of kB at most (certificates, JSON
 * configurations serialised into one parameter); the cap leaves ten times that, and keeps what one
 * request writes to SQLite, reads back and answers (all synchronous work) to a few milliseconds
 * (docs/master.md, "Limits").
 */
import { SlapError } from '../../core/errors.ts';
import { encodeParameterXml } from '../../core/parameter-xml.ts';
import { stringifyPythonJson } from '../../core/python-value.ts';

export const MAX_PARAMETER_XML_BYTES = 256 * 1024;
export const MAX_SLA_JSON_BYTES = 64 * 1024;

function bounded(text: string, max: number, what: string): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > max) {
    throw new SlapError(
      'SLAP_ERR_PAYLOAD_TOO_LARGE',
      `${what} take ${bytes} bytes stored; at most ${max} are.`,
    );
  }
  return text;
}

/** The parameter XML to store for `parameters`; SLAP_ERR_PAYLOAD_TOO_LARGE (413) past the cap. */
export function storableParameterXml(parameters: Readonly<Record<string, unknown>>): string {
  return bounded(
    encodeParameterXml(parameters),
    MAX_PARAMETER_XML_BYTES,
    'The parameters (as parameter XML)',
  );
}

/** The SLA JSON to store (Python number types kept); SLAP_ERR_PAYLOAD_TOO_LARGE (413) past the cap. */
export function storableSlaJson(sla: Readonly<Record<string, unknown>>): string {
  return bounded(stringifyPythonJson(sla), MAX_SLA_JSON_BYTES, 'The SLA parameters (as JSON)');
}
