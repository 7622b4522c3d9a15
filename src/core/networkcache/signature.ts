/**
 * shadir entry signatures as slapos.libnetworkcache makes them: RSA PKCS#1 v1.5 over SHA-1 of the
 * entry's JSON text (UTF-8), base64-encoded; an entry is trusted when any certificate of
 * `signature-certificate-list` verifies it. An empty signature never verifies.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';

const CERTIFICATE_MARKER = '-----BEGIN CERTIFICATE-----';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface TrustedSigner {
  /** The certificate's subject, for log lines. */
  readonly subject: string;
  readonly publicKey: KeyObject;
}

/**
 * Splits `signature-certificate-list` as the original does (on the BEGIN marker, blank pieces
 * dropped) and loads each certificate; those that do not parse are returned in `ignored` (the
 * original logs and ignores them).
 */
export function loadCertificateList(text: string): { signers: TrustedSigner[]; ignored: string[] } {
  const signers: TrustedSigner[] = [];
  const ignored: string[] = [];
  for (const piece of text.split(CERTIFICATE_MARKER)) {
    if (piece.trim() === '') continue;
    const pem = `${CERTIFICATE_MARKER}\n${piece.trim()}\n`;
    try {
      const certificate = new X509Certificate(pem);
      signers.push({ subject: certificate.subject.replace(/\n/g, ', '), publicKey: certificate.publicKey });
    } catch (error) {
      ignored.push((error as Error).message);
    }
  }
  return { signers, ignored };
}

/** The signature of `entryJson` with `privateKeyPem` (the original's `_getSignatureString`). */
export function signEntry(entryJson: string, privateKey: KeyObject): string {
  return sign('sha1', Buffer.from(entryJson, 'utf8'), privateKey).toString('base64');
}

/** The signer whose certificate verifies `signature` over `entryJson`, or undefined. */
export function verifyEntry(
  entryJson: string,
  signature: string,
  signers: readonly TrustedSigner[],
): TrustedSigner | undefined {
  if (signature === '' || !BASE64.test(signature)) return undefined;
  const raw = Buffer.from(signature, 'base64');
  const data = Buffer.from(entryJson, 'utf8');
  for (const signer of signers) {
    try {
      if (verify('sha1', data, signer.publicKey, raw)) return signer;
    } catch {
      // A key type that cannot verify this signature: try the next certificate.
    }
  }
  return undefined;
}

export function loadPrivateKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** True if one of `signers` holds the public half of `privateKey` (else our uploads would never verify). */
export function hasCertificateFor(privateKey: KeyObject, signers: readonly TrustedSigner[]): boolean {
  const mine = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  return signers.some((signer) => signer.publicKey.export({ type: 'spki', format: 'der' }).equals(mine));
}
