/**
 * Checks a certificate signing request (PKCS#10) sent by a requester before the master signs its
 * key: strict PEM text, a complete DER structure, an accepted key, a valid self-signature, and no
 * subject other than the one the master assigns. Every refusal is a SlapError whose message never
 * contains the request's text.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { SlapError } from '../../core/errors.ts';
import { x509 } from '../../lib/x509.ts';

/** Largest request accepted, in bytes of its PEM text. */
export const MAX_CSR_BYTES = 16 * 1024;

const PEM_LABEL = 'CERTIFICATE REQUEST';
const PEM_PATTERN =
  /^-----BEGIN CERTIFICATE REQUEST-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE REQUEST-----$/;
const EC_CURVES = new Set(['prime256v1', 'secp384r1']);
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 8192;
const RSA_MAX_EXPONENT = 2n ** 32n;
const SIGNATURE_HASHES = new Set(['SHA-256', 'SHA-384', 'SHA-512']);
const COMMON_NAME_OID = '2.5.4.3';

export interface CheckedCertificateRequest {
  /** The requester's public key, to put in the certificate. */
  publicKey: KeyObject;
}

function invalid(message: string, cause?: unknown): SlapError {
  return new SlapError('SLAP_ERR_CSR_INVALID', message, cause === undefined ? {} : { cause });
}

/** The DER bytes of the one PEM block `text` holds (surrounding whitespace allowed), or SLAP_ERR_CSR_INVALID/TOO_LARGE. */
function pemBody(text: unknown): Buffer {
  if (typeof text !== 'string') throw invalid('The certificate request must be PEM text.');
  if (Buffer.byteLength(text, 'utf8') > MAX_CSR_BYTES) {
    throw new SlapError('SLAP_ERR_CSR_TOO_LARGE', `The certificate request is over ${MAX_CSR_BYTES} bytes.`);
  }

  if (!/^[\x00-\x7f]*$/.test(text)) throw invalid('The certificate request must be ASCII PEM text.');
  const match = PEM_PATTERN.exec(text.trim()); // ASCII by now: trim() only removes ASCII whitespace
  if (!match?.[1]) {
    throw invalid(`The certificate request must be exactly one PEM "${PEM_LABEL}" block.`);
  }
  const base64 = match[1].replace(/\r?\n/g, '');
  const der = Buffer.from(base64, 'base64');
  if (der.length === 0 || der.toString('base64') !== base64) {
    throw invalid('The certificate request is not valid base64.');
  }
  return der;
}

interface DerElement {
  tag: number;
  /** Offsets in the buffer: where the element starts, where its content starts, where it ends. */
  start: number;
  contentStart: number;
  end: number;
}

/** The DER element at `offset` (definite lengths up to 3 bytes), or undefined when it does not fit in `der`. */
function derElementAt(der: Buffer, offset: number): DerElement | undefined {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) return undefined;
  let contentStart = offset + 2;
  let length = first;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 3) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[contentStart + i] ?? Number.NaN);
    contentStart += count;
  }
  const end = contentStart + length;
  return Number.isNaN(end) || end > der.length ? undefined : { tag, start: offset, contentStart, end };
}

/** The signed bytes and the signature of a CertificationRequest (SEQUENCE { info, algorithm, BIT STRING }). */
interface SignedParts {
  info: Buffer;
  signature: Buffer;
}

function signedParts(der: Buffer): SignedParts | undefined {
  const outer = derElementAt(der, 0);
  if (outer?.tag !== 0x30 || outer.end !== der.length) return undefined;
  const info = derElementAt(der, outer.contentStart);
  const algorithm = info && derElementAt(der, info.end);
  const signature = algorithm && derElementAt(der, algorithm.end);
  if (
    info?.tag !== 0x30 ||
    algorithm?.tag !== 0x30 ||
    signature?.tag !== 0x03 ||
    signature.end !== outer.end
  ) {
    return undefined;
  }
  // A BIT STRING's first content byte counts unused bits: signatures use whole bytes.
  if (der[signature.contentStart] !== 0) return undefined;
  return {
    info: der.subarray(info.start, info.end),
    signature: der.subarray(signature.contentStart + 1, signature.end),
  };
}

interface ParsedRequest extends SignedParts {
  request: x509.Pkcs10CertificateRequest;
}

function parse(der: Buffer): ParsedRequest {
  // Checked here too because the ASN.1 reader ignores bytes after the first structure.
  const parts = signedParts(der);
  if (!parts) throw invalid('The certificate request is not exactly one PKCS#10 DER structure.');
  try {
    return { ...parts, request: new x509.Pkcs10CertificateRequest(der) };
  } catch (error) {
    throw invalid('The certificate request is not a well-formed PKCS#10 structure.', error);
  }
}

function checkedPublicKey(request: x509.Pkcs10CertificateRequest): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(request.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (error) {
    throw new SlapError('SLAP_ERR_CSR_KEY', "The certificate request's public key cannot be read.", {
      cause: error,
    });
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (
    key.asymmetricKeyType === 'ec' &&
    details.namedCurve !== undefined &&
    EC_CURVES.has(details.namedCurve)
  ) {
    return key;
  }
  if (
    key.asymmetricKeyType === 'rsa' &&
    details.modulusLength !== undefined &&
    details.modulusLength >= RSA_MIN_BITS &&
    details.modulusLength <= RSA_MAX_BITS &&
    details.publicExponent !== undefined &&
    details.publicExponent <= RSA_MAX_EXPONENT
  ) {
    return key;
  }
  const described =
    key.asymmetricKeyType === 'rsa'
      ? `RSA ${details.modulusLength ?? '?'} bits`
      : (key.asymmetricKeyType ?? 'unknown');
  throw new SlapError(
    'SLAP_ERR_CSR_KEY',
    `The certificate request's key (${described}) is not accepted: use EC P-256/P-384 or RSA ${RSA_MIN_BITS} to ${RSA_MAX_BITS} bits.`,
  );
}

/** Verifies the request's self-signature with node's crypto over the bytes as received. */
function checkSignature({ request, info, signature }: ParsedRequest, publicKey: KeyObject): void {
  let verified = false;
  try {
    const algorithm = request.signatureAlgorithm as { name?: string; hash?: { name?: string } };
    const hash = algorithm.hash?.name ?? '';
    const keyType =
      algorithm.name === 'ECDSA' ? 'ec' : algorithm.name === 'RSASSA-PKCS1-v1_5' ? 'rsa' : undefined;
    verified =
      keyType === publicKey.asymmetricKeyType &&
      SIGNATURE_HASHES.has(hash) &&
      verify(hash.replace('-', '').toLowerCase(), info, { key: publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    verified = false;
  }
  if (!verified) {
    throw new SlapError(
      'SLAP_ERR_CSR_SIGNATURE',
      'The certificate request is not signed by its own key (ECDSA or RSA PKCS#1 v1.5 with SHA-256/384/512).',
    );
  }
}

/** Empty, or exactly one attribute CN=`expectedCommonName` when one is expected. */
function checkSubject(request: x509.Pkcs10CertificateRequest, expectedCommonName: string | undefined): void {
  if (expectedCommonName === undefined) return;
  let matches = false;
  try {
    const rdns = request.subjectName.toJSON();
    if (rdns.length === 0) return;
    const only = rdns.length === 1 ? Object.entries(rdns[0] ?? {}) : [];
    const [type, values] = only.length === 1 ? (only[0] ?? []) : [];
    matches =
      (type === 'CN' || type === COMMON_NAME_OID) && values?.length === 1 && values[0] === expectedCommonName;
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new SlapError(
      'SLAP_ERR_CSR_SUBJECT',
      `The certificate request names a subject other than the one assigned (CN=${expectedCommonName}); leave it empty or use exactly that.`,
    );
  }
}

/**
 * Validates the PEM certificate request `text`. With `expectedCommonName`, a non-empty subject must be
 * exactly `CN=<expectedCommonName>`; without one the subject is not looked at (the master replaces it anyway).
 */
export function checkCertificateRequest(
  text: unknown,
  expectedCommonName?: string,
): CheckedCertificateRequest {
  const parsed = parse(pemBody(text));
  const publicKey = checkedPublicKey(parsed.request);
  checkSignature(parsed, publicKey);
  checkSubject(parsed.request, expectedCommonName);
  return { publicKey };
}
