/**
 * The marshalled form fields of the legacy API (`state`, `shared_xml`, `partition_parameter_xml`,
 * `filter_xml`, `connection_xml`, the format's `xml`): decoded (xml-marshaller.ts refuses anything
 * but a well-formed, bounded `<marshal>` document), then checked for the type the field holds, and
 * turned into the JSON-like values the services take, within the JSON API's own bounds (nesting,
 * values), so that both APIs accept the same parameters.
 */
import { SlapError } from '../../../core/errors.ts';
import { PyNumber } from '../../../core/python-value.ts';
import type { RequestedState } from '../../../core/states.ts';
import { parameterDictProblem, textProblem } from '../../../core/text-rules.ts';
import {
  decodeMarshal,
  decodeMarshalDict,
  decodeMarshalString,
  PyObject,
  PyTuple,
  type MarshalDict,
  type MarshalValue,
} from '../../../core/xml-marshaller.ts';
import { MAX_JSON_VALUES, MAX_NESTING } from '../request-body.ts';
import { SLA_VALUE } from '../request-rules.ts';
import type { LegacyForm } from './form.ts';

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

/** Converts a decoded value; counts values and depth against the JSON API's bounds. */
class Converter {
  private values = 0;
  constructor(private readonly field: string) {}

  value(value: MarshalValue, depth: number): unknown {
    if (++this.values > MAX_JSON_VALUES) {
      throw new SlapError(
        'SLAP_ERR_PAYLOAD_TOO_LARGE',
        `${this.field} holds more than ${MAX_JSON_VALUES} values.`,
      );
    }
    if (depth > MAX_NESTING) throw invalid(`${this.field} is nested deeper than ${MAX_NESTING} levels.`);
    if (value === null || typeof value !== 'object' || value instanceof PyNumber) return value;
    if (value instanceof PyObject) throw invalid(`${this.field} may not hold a ${value.className} object.`);
    // A tuple is a list once it is a parameter (JSON has no tuples).
    const items = value instanceof PyTuple ? value.items : Array.isArray(value) ? value : undefined;
    if (items) return items.map((item) => this.value(item, depth + 1));
    return this.dict(value as MarshalDict, depth);
  }

  dict(dict: MarshalDict, depth: number): Record<string, unknown> {
    // A null prototype: a key such as `constructor` is data, never inherited behaviour.
    const result = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(dict)) {
      if (key === '__proto__') throw invalid(`${this.field} holds a forbidden key: __proto__`);
      result[key] = this.value(dict[key] as MarshalValue, depth + 1);
    }
    return result;
  }
}

/** A marshalled dictionary field; `fallback` when absent (else it is required). */
export function dictField(
  form: LegacyForm,
  name: string,
  fallback?: Record<string, unknown>,
): Record<string, unknown> {
  const xml = fallback === undefined ? form.required(name) : form.optional(name);
  if (xml === undefined) return fallback ?? {};
  return new Converter(name).dict(decodeMarshalDict(xml, name), 1);
}

/** A marshalled parameter dictionary (stored as parameter XML), checked as the JSON API checks one. */
export function parameterField(
  form: LegacyForm,
  name: string,
  fallback?: Record<string, unknown>,
): Record<string, unknown> {
  const parameters = dictField(form, name, fallback);
  const problem = parameterDictProblem(parameters);
  if (problem) throw invalid(`${name} ${problem}`);
  return parameters;
}

/** The marshalled SLA (`filter_xml`) of a request; {} when absent. */
export function slaField(form: LegacyForm): Record<string, unknown> {
  const sla = dictField(form, 'filter_xml', {});
  for (const key of Object.keys(sla)) {
    const value = sla[key];
    const problem = typeof value === 'string' ? textProblem(value, SLA_VALUE) : undefined;
    if (problem) throw invalid(`filter_xml ${JSON.stringify(key.slice(0, 40))} ${problem}`);
  }
  return sla;
}

const REQUESTED_STATES: ReadonlySet<string> = new Set<RequestedState>(['started', 'stopped', 'destroyed']);

/** The marshalled `state` of a request: a requested state, or None (keep the stored one). */
export function stateField(form: LegacyForm): RequestedState | undefined {
  const state = decodeMarshalString(form.required('state'), 'state');
  if (state === null) return undefined;
  if (!REQUESTED_STATES.has(state))
    throw invalid(`state must be started, stopped, destroyed or None, not ${JSON.stringify(state)}`);
  return state as RequestedState;
}

/** Python's truth of a decoded value. */
function pythonTruth(value: MarshalValue): boolean {
  if (value === null || value === false || value === '') return false;
  if (typeof value === 'number') return value !== 0;
  if (value instanceof PyNumber) return value.value !== 0;
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof PyTuple) return value.items.length > 0;
  if (value instanceof PyObject) return true;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/**
 * The marshalled `shared_xml` of a request: its Python truth, as slapproxy reads it (clients send a
 * bool; the upstream tests also send `{}`); false when absent.
 */
export function sharedField(form: LegacyForm): boolean {
  const xml = form.optional('shared_xml');
  return xml === undefined ? false : pythonTruth(decodeMarshal(xml));
}

/** A marshalled list field (`instance_reference_xml`): decoded and checked, its items as decoded. */
export function listField(form: LegacyForm, name: string): MarshalValue[] {
  const value = decodeMarshal(form.required(name));
  if (!Array.isArray(value)) throw invalid(`${name} must hold a list`);
  return value;
}
