/**
 * shadir's wire values, as slapos.libnetworkcache writes them: a key (`md5(software URL)` for a
 * binary release, `file-urlmd5:…` and the like for the source cache) and the body of a PUT, the
 * JSON array `[entry, signature]` where `entry` is the JSON text of an object holding at least the
 * blob's `sha512`, and `signature` the base64 signature of that exact text (empty when unsigned).
 * The server keeps both strings as they came (the signature covers the entry's exact text) and
 * refuses what is not that shape with a clear message. It does not check signatures: which
 * certificates to trust is each client's decision (`signature-certificate-list`).
 */
import { SlapError } from '../core/errors.ts';
import { parseSha512 } from './blob-store.ts';

export const KEY_MAX_LENGTH = 255;

const KEY = /^[A-Za-z0-9_:@+=,~-][A-Za-z0-9._:@+=,~-]*$/;
export const KEY_RULE = `1 to ${KEY_MAX_LENGTH} letters, digits or ._:@+=,~- (not starting with a dot, no "..")`;

/** Base64 as Python's encoders write it (the old `encode('base64')` wraps lines at 76 characters). */
const SIGNATURE = /^[A-Za-z0-9+/\n]*={0,2}\n?$/;

export interface ShadirEntry {
  /** The JSON text of the entry, as signed. */
  entry: string;
  /** Its base64 signature ('' when unsigned). */
  signature: string;
  /** The blob the entry points at. */
  sha512: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

/** `key` when it is a valid shadir key, else the 400 that says why. */
export function checkShadirKey(key: string): string {
  if (key.length === 0) throw invalid('The shadir key is empty: use /shadir/<key>.');
  if (key.length > KEY_MAX_LENGTH || !KEY.test(key) || key.includes('..'))
    throw invalid(`The shadir key is not valid: it must be ${KEY_RULE}.`);
  return key;
}

/** The entry of a PUT body (its text), or the 400 that says what is wrong with it. */
export function parseShadirPut(body: string): ShadirEntry {
  let pair: unknown;
  try {
    pair = JSON.parse(body);
  } catch {
    throw invalid('The shadir entry is not JSON: send the JSON array [entry, signature].');
  }
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
    throw invalid('The shadir entry must be the JSON array [entry, signature] of two strings.');
  const [entry, signature] = pair as [string, string];
  // Lone surrogates cannot be stored as UTF-8 and so would not come back as they were signed.
  if (LONE_SURROGATE.test(entry)) throw invalid('The shadir entry holds a lone UTF-16 surrogate.');
  if (!SIGNATURE.test(signature)) throw invalid('The shadir entry signature is not base64.');
  let fields: unknown;
  try {
    fields = JSON.parse(entry);
  } catch {
    throw invalid('The shadir entry (the first string) is not JSON: it must be a JSON object.');
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
    throw invalid('The shadir entry (the first string) must be a JSON object.');
  const sha512Field: unknown = (fields as Record<string, unknown>)['sha512'];
  const sha512 = typeof sha512Field === 'string' ? parseSha512(sha512Field) : undefined;
  if (sha512 === undefined || sha512 !== sha512Field)
    throw invalid(
      'The shadir entry must hold "sha512": the blob\'s sha512, 128 lowercase hexadecimal digits.',
    );
  return { entry, signature, sha512 };
}
