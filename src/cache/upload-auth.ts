/**
 * Who may upload to the cache server (downloads are public). Two ways, either suffices:
 *
 * - an upload token: `Authorization: Bearer <token>` (our client's `upload-token-file`), or HTTP
 *   Basic with the token as the password (what slapos.libnetworkcache sends for an upload URL
 *   written `http://USER:TOKEN@host/…`). The server keeps only the tokens' SHA-256 digests, in its
 *   index; `slapos cache token` makes more, the first start makes one into `upload.token` (0600).
 * - with TLS and a client CA: a client certificate that CA issued, whose subject's organisation
 *   (the master CA's certificate kind: `O=compute_node`) is one of the allowed kinds, so that the
 *   compute nodes registered on a master upload with the certificate they already have.
 *
 * Nothing here logs or returns a token.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { accessTokenHash, bearerToken, isAccessToken } from '../lib/access-token.ts';

export type Uploader =
  | { kind: 'token'; label: string }
  | { kind: 'certificate'; subject: { commonName: string; organization: string } };

/** The token an `Authorization` header presents: a bearer token, or the password of Basic credentials. */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const bearer = bearerToken(authorization);
  if (bearer !== undefined) return isAccessToken(bearer) ? bearer : undefined;
  const basic = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(authorization)?.[1];
  if (basic === undefined) return undefined;
  const credentials = Buffer.from(basic, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  const password = colon < 0 ? undefined : credentials.slice(colon + 1);
  return password !== undefined && isAccessToken(password) ? password : undefined;
}

/** The digest under which the index keeps a token. */
export const uploadTokenHash = accessTokenHash;

/** Certificate kinds allowed by default: the compute nodes of the master whose CA is the client CA. */
export const DEFAULT_CERTIFICATE_KINDS: readonly string[] = ['compute_node'];

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The uploader a TLS connection's client certificate proves: one the TLS layer verified against
 * the client CA, with a single CN and a single O among `kinds` (`*` allows any O).
 */
export function certificateUploader(socket: Socket, kinds: readonly string[]): Uploader | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function' || tls.authorized !== true) return undefined;
  const peer = tls.getPeerCertificate();
  // Node gives an empty object when the client sent no certificate.
  if (!peer || typeof peer.serialNumber !== 'string') return undefined;
  const commonName = single(peer.subject.CN);
  const organization = single(peer.subject.O);
  if (commonName === undefined || organization === undefined) return undefined;
  if (!kinds.includes('*') && !kinds.includes(organization)) return undefined;
  return { kind: 'certificate', subject: { commonName, organization } };
}

/** What a log line says of an uploader (never a token). */
export function describeUploader(uploader: Uploader): string {
  return uploader.kind === 'token'
    ? `token ${uploader.label}`
    : `certificate CN=${uploader.subject.commonName}, O=${uploader.subject.organization}`;
}
