/**
 * The legacy SLAP API (docs/protocol.md §3) spoken the way the Python client library `slapos.slap`
 * speaks it, for tests against a real master: form POSTs and GET query strings encoded as `requests`
 * encodes them (`None` values sent as the string "None"), its headers, and the marshalled answers
 * decoded back into the attribute dictionaries the Python objects would hold.
 */
import { request as httpsRequest } from 'node:https';
import { gunzipSync, inflateSync } from 'node:zlib';
import { request, type Dispatcher } from 'undici';
import { PyNumber } from '../core/python-value.ts';
import {
  PyObject,
  PyTuple,
  SLAP_MODULE,
  decodeMarshal,
  encodeMarshal,
  type MarshalDict,
  type MarshalValue,
} from '../core/xml-marshaller.ts';

/** The slapos.core release whose client these helpers imitate (its `User-agent`). */
export const SLAPOS_CORE_VERSION = '1.24.0';

/** The headers slapos.slap's ConnectionHelper adds to every call, with those `requests` adds itself. */
export const SLAP_CLIENT_HEADERS: Readonly<Record<string, string>> = {
  'User-agent': `slapos.core/${SLAPOS_CORE_VERSION}`,
  Accept: '*/*',
  'Accept-Encoding': 'gzip, deflate',
};

/** Form fields or query parameters; `null` is Python's None, which the client sends as "None". */
export type LegacyFields = Readonly<Record<string, string | null>>;

/** Bytes Python's `quote_plus` leaves as they are. */
function isUnreservedByte(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) ||
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

/** Python's `urllib.parse.quote(text, safe='')` of a UTF-8 string (RFC 3986: only unreserved bytes stay). */
export function percentEncode(text: string, options: { spaceAsPlus?: boolean } = {}): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (isUnreservedByte(byte)) out += String.fromCharCode(byte);
    else if (byte === 0x20 && options.spaceAsPlus) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Python's `urllib.parse.quote_plus` of a UTF-8 string. */
export function quotePlus(text: string): string {
  return percentEncode(text, { spaceAsPlus: true });
}

/** What `requests` sends for `data=fields` (or `params=fields`) after slapos.slap turned None into "None". */
export function encodeLegacyFields(fields: LegacyFields): string {
  return Object.entries(fields)
    .map(([key, value]) => `${quotePlus(key)}=${quotePlus(value ?? 'None')}`)
    .join('&');
}

export interface LegacyResponse {
  status: number;
  /** Response headers, lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
  /** The body, decompressed when the master gzip'd or deflated it, as UTF-8 text. */
  text: string;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function decompressed(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    default:
      throw new Error(`the master answered with an unknown Content-Encoding ${encoding}`);
  }
}

export interface LegacyCallOptions {
  /** Query string parameters. */
  query?: LegacyFields;
  /** Form fields of a POST (application/x-www-form-urlencoded); none: an empty body. */
  form?: LegacyFields;
  /** Extra headers (they override the client's). */
  headers?: Readonly<Record<string, string>>;
}

/** One call as slapos.slap makes it, over real HTTP (30 s timeout; redirects are not followed). */
export async function legacyCall(
  url: string,
  method: Extract<Dispatcher.HttpMethod, 'GET' | 'POST'>,
  path: string,
  options: LegacyCallOptions = {},
): Promise<LegacyResponse> {
  const query = options.query ? `?${encodeLegacyFields(options.query)}` : '';
  const headers: Record<string, string> = { ...SLAP_CLIENT_HEADERS };
  let body: string | undefined;
  if (options.form) {
    headers['Content-type'] = 'application/x-www-form-urlencoded';
    body = encodeLegacyFields(options.form);
  } else if (method === 'POST') {
    headers['Content-Length'] = '0';
  }
  Object.assign(headers, options.headers);
  const response = await request(`${url}${path}${query}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(30_000),
  });
  const raw = Buffer.from(await response.body.arrayBuffer());
  const text = decompressed(raw, headerText(response.headers['content-encoding'])).toString('utf8');
  return { status: response.statusCode, headers: response.headers, text };
}

/** GET `path` with a query string, as `ConnectionHelper.GET(path, params=query)`. */
export function legacyGet(
  url: string,
  path: string,
  query?: LegacyFields,
  headers?: Readonly<Record<string, string>>,
): Promise<LegacyResponse> {
  return legacyCall(url, 'GET', path, { ...(query ? { query } : {}), ...(headers ? { headers } : {}) });
}

/** POST a form to `path`, as `ConnectionHelper.POST(path, data=form)`. */
export function legacyPost(
  url: string,
  path: string,
  form?: LegacyFields,
  headers?: Readonly<Record<string, string>>,
): Promise<LegacyResponse> {
  return legacyCall(url, 'POST', path, { ...(form ? { form } : {}), ...(headers ? { headers } : {}) });
}

/** The arguments of slap.py's `request()` (OpenOrder or ComputerPartition). */
export interface RequestFormOptions {
  softwareRelease: string;
  /** None becomes 'default', as the client enforces. */
  softwareType?: string | null;
  /** The title. */
  partitionReference: string;
  /** Python's `shared` argument, marshalled as it is (the server reads its truth value). */
  shared?: MarshalValue;
  parameters?: MarshalDict;
  filter?: MarshalDict;
  state?: string | null;
  /** The requesting partition; none for a user (OpenOrder) request. */
  requester?: { computerId: string | null; partitionId: string | null };
}

/** The form of `requestComputerPartition` exactly as slap.py's `request()` builds it. */
export function requestComputerPartitionForm(options: RequestFormOptions): LegacyFields {
  return {
    ...(options.requester
      ? {
          computer_id: options.requester.computerId,
          computer_partition_id: options.requester.partitionId,
        }
      : {}),
    software_release: options.softwareRelease,
    software_type: options.softwareType ?? 'default',
    partition_reference: options.partitionReference,
    shared_xml: encodeMarshal(options.shared ?? false),
    partition_parameter_xml: encodeMarshal(options.parameters ?? {}),
    filter_xml: encodeMarshal(options.filter ?? {}),
    state: encodeMarshal(options.state ?? null),
  };
}

/** Decodes a 200 answer's marshalled body; throws with the status and body on anything else. */
export function marshalledAnswer(response: LegacyResponse): MarshalValue {
  if (response.status !== 200) {
    throw new Error(
      `expected a 200 marshalled answer, got ${response.status}: ${response.text.slice(0, 500)}`,
    );
  }
  return decodeMarshal(response.text);
}

/** The constructor of each of SlapOS's classes: the attributes it sets from its arguments. */
const CONSTRUCTED_ATTRIBUTES: Readonly<Record<string, (args: readonly MarshalValue[]) => MarshalDict>> = {
  Computer: (args) => ({ _computer_id: args[0] ?? null }),
  ComputerPartition: (args) => ({
    _computer_id: args[0] ?? null,
    _partition_id: args[1] ?? null,
    _request_dict: args[2] ?? null,
  }),
  SoftwareRelease: (args) => ({
    _software_instance_list: [],
    _software_release: args[0] ?? null,
    _computer_guid: args[1] ?? null,
  }),
  SoftwareInstance: () => ({}),
};

/**
 * The `__dict__` the Python client's object would have after unmarshalling `value`: the attributes
 * its constructor sets from the argument tuple, then the marshalled ones. Throws unless `value` is
 * an object of `className` in module slapos.slap.slap.
 */
export function slapObjectDict(value: MarshalValue, className: string): MarshalDict {
  if (!(value instanceof PyObject)) throw new Error(`expected a ${className} object, got ${describe(value)}`);
  if (value.module !== SLAP_MODULE || value.className !== className) {
    throw new Error(`expected a ${SLAP_MODULE}.${className}, got ${value.module}.${value.className}`);
  }
  const construct = CONSTRUCTED_ATTRIBUTES[className];
  if (!construct) throw new Error(`${className} is not one of SlapOS's classes`);
  return plainDict({ ...construct(value.args), ...value.attributes });
}

/**
 * A decoded value with every dictionary rebuilt as an ordinary object (decoded ones have a null
 * prototype), so that assert.deepStrictEqual compares it with object literals.
 */
export function plainMarshal(value: MarshalValue): MarshalValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(plainMarshal);
  if (value instanceof PyTuple) return new PyTuple(value.items.map(plainMarshal));
  if (value instanceof PyObject) {
    return new PyObject(
      value.module,
      value.className,
      value.args.map(plainMarshal),
      plainDict(value.attributes),
    );
  }
  if (value instanceof PyNumber) return value;
  return plainDict(value);
}

function plainDict(dict: MarshalDict): MarshalDict {
  return Object.fromEntries(Object.entries(dict).map(([key, item]) => [key, plainMarshal(item)]));
}

/** Python's truth value of an unmarshalled value (`bool(value)`). */
export function pythonTruth(value: MarshalValue): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return value !== '';
  if (value instanceof PyNumber) return value.value !== 0;
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof PyTuple) return value.items.length > 0;
  if (value instanceof PyObject) return true;
  return Object.keys(value).length > 0;
}

/** A value as a plain dictionary; throws on anything else. */
export function marshalDict(value: MarshalValue | undefined, what: string): MarshalDict {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what}: expected a dictionary, got ${describe(value)}`);
  }
  if (value instanceof PyObject || !isPlainDict(value)) {
    throw new Error(`${what}: expected a dictionary, got ${describe(value)}`);
  }
  return value;
}

/** A value as a list; throws on anything else. */
export function marshalList(value: MarshalValue | undefined, what: string): MarshalValue[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list, got ${describe(value)}`);
  return value;
}

function isPlainDict(value: object): value is MarshalDict {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === null || prototype === Object.prototype;
}

function describe(value: MarshalValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value instanceof PyObject) return `an object ${value.module}.${value.className}`;
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}

/**
 * A call with a raw query string and body, as no well-behaved client sends it (bad escapes, repeated
 * fields, bytes that are not UTF-8); the body goes as a form unless the headers say otherwise.
 */
export async function legacyRaw(
  url: string,
  method: Extract<Dispatcher.HttpMethod, 'GET' | 'POST'>,
  path: string,
  options: { query?: string; body?: string | Buffer; headers?: Readonly<Record<string, string>> },
): Promise<LegacyResponse> {
  const response = await request(`${url}${path}${options.query === undefined ? '' : `?${options.query}`}`, {
    method,
    headers: {
      ...SLAP_CLIENT_HEADERS,
      'Accept-Encoding': 'identity',
      ...(options.body === undefined ? {} : { 'Content-type': 'application/x-www-form-urlencoded' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

export interface LegacyTlsOptions {
  /** The CA to trust for the master. */
  ca: string;
  /** Client certificate and key (mutual TLS). */
  cert?: string | undefined;
  key?: string | undefined;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
}

/** A legacy call to a master over HTTPS (master mode), on a fresh connection (30 s timeout). */
export function legacyTls(
  masterUrl: string,
  method: 'GET' | 'POST',
  path: string,
  fields: LegacyFields,
  options: LegacyTlsOptions,
): Promise<LegacyResponse> {
  const encoded = encodeLegacyFields(fields);
  return new Promise((resolve, reject) => {
    const call = httpsRequest(
      `${masterUrl}${path}${method === 'GET' && encoded !== '' ? `?${encoded}` : ''}`,
      {
        method,
        agent: false,
        ca: options.ca,
        ...(options.cert === undefined ? {} : { cert: options.cert }),
        ...(options.key === undefined ? {} : { key: options.key }),
        headers: {
          'User-agent': SLAP_CLIENT_HEADERS['User-agent'],
          Accept: '*/*',
          ...(method === 'POST' ? { 'Content-type': 'application/x-www-form-urlencoded' } : {}),
          ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
        },
        timeout: 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    call.on('timeout', () => call.destroy(new Error('timed out')));
    call.on('error', reject);
    call.end(method === 'POST' ? encoded : undefined);
  });
}
