/**
 * Signed, chained usage journals (docs/invoicing.md, "Verifiable usage"). A node seals each journal
 * it sends with two processing instructions, which any XML reader (the original master's included)
 * ignores:
 *
 *   <?xml version='1.0' encoding='utf-8'?>
 *   <?slapos-usage-chain sequence="12" previous="<sha-256 hex of the node's journal 11, as sent>"?>
 *   <journal>…</journal>
 *   <?slapos-usage-signature certificate="<base64 DER>" value="<base64 signature>"?>
 *
 * The signature (SHA-256 with the key of the node's certificate: ECDSA DER or RSA PKCS#1) covers the
 * exact UTF-8 text before the signature instruction. The first journal of a node has sequence 1 and
 * an empty `previous`. A journal's hash is the SHA-256 of the whole document as sent, signature
 * included: the next journal names it, so a journal missing, altered or out of order breaks the chain.
 */
import { createHash, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { SlapError } from './errors.ts';

export interface UsageSeal {
  sequence: number;
  /** The previous journal's hash (hex); '' for the first. */
  previous: string;
  /** The text the signature covers. */
  signedText: string;
  /** Base64. */
  signature: string;
  /** The signing certificate (PEM). */
  certificatePem: string;
}

const CHAIN = /<\?slapos-usage-chain sequence="([1-9]\d{0,14})" previous="((?:[0-9a-f]{64})?)"\?>/g;
const SIGNATURE =
  /<\?slapos-usage-signature certificate="([A-Za-z0-9+/]+={0,2})" value="([A-Za-z0-9+/]+={0,2})"\?>\s*$/;

/** SHA-256 (hex) of a document as sent. */
export function usageDocumentHash(document: string): string {
  return createHash('sha256').update(document, 'utf8').digest('hex');
}

function pemOfDer(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_USAGE_REPORT_INVALID', message);
}

/**
 * The journal's seal, undefined when it has none (an unsigned journal). A signature without a chain,
 * or a chain instruction after the root element or twice, is invalid (SLAP_ERR_USAGE_REPORT_INVALID).
 * Does not check the signature: `verifyUsageSeal` does.
 */
export function readUsageSeal(document: string): UsageSeal | undefined {
  const signature = SIGNATURE.exec(document);
  const chains = [...document.matchAll(CHAIN)];
  if (!signature) {
    if (chains.length > 0 || document.includes('<?slapos-usage-'))
      throw invalid('the usage journal has a chain but no valid signature instruction');
    return undefined;
  }
  const chain = chains[0];
  if (chains.length !== 1 || chain === undefined)
    throw invalid('a signed usage journal has exactly one <?slapos-usage-chain?> instruction');
  const root = document.indexOf('<journal');
  if (root < 0 || chain.index > root)
    throw invalid('the <?slapos-usage-chain?> instruction comes before <journal>');
  const [, certificate = '', value = ''] = signature;
  return {
    sequence: Number(chain[1]),
    previous: chain[2] ?? '',
    signedText: document.slice(0, signature.index),
    signature: value,
    certificatePem: pemOfDer(Buffer.from(certificate, 'base64')),
  };
}

/** True when the seal's signature verifies with its certificate's key. */
export function verifyUsageSeal(seal: UsageSeal): boolean {
  try {
    const certificate = new X509Certificate(seal.certificatePem);
    return verify(
      'sha256',
      Buffer.from(seal.signedText, 'utf8'),
      certificate.publicKey,
      Buffer.from(seal.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

const DECLARATION = /^\s*<\?xml[^?]*\?>\s*/;

/**
 * Seals a journal (the XML the node would send unsigned) as the `sequence`-th of the node's chain.
 * Returns the document to send; its hash (`usageDocumentHash`) is the next journal's `previous`.
 */
export function sealUsageJournal(
  journalXml: string,
  options: { sequence: number; previous: string; key: KeyObject; certificatePem: string },
): string {
  if (!Number.isSafeInteger(options.sequence) || options.sequence < 1)
    throw new RangeError('the sequence of a usage journal is a positive integer');
  if (options.previous !== '' && !/^[0-9a-f]{64}$/.test(options.previous))
    throw new RangeError('the previous journal hash is 64 hex digits');
  const body = journalXml.replace(DECLARATION, '').trimEnd();
  const chained =
    `<?xml version='1.0' encoding='utf-8'?>\n` +
    `<?slapos-usage-chain sequence="${options.sequence}" previous="${options.previous}"?>\n` +
    `${body}\n`;
  const signature = sign('sha256', Buffer.from(chained, 'utf8'), options.key).toString('base64');
  const certificate = new X509Certificate(options.certificatePem).raw.toString('base64');
  return `${chained}<?slapos-usage-signature certificate="${certificate}" value="${signature}"?>\n`;
}
