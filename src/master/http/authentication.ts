/**
 * Who is calling, as the transport proves it: an Authenticator turns a request (its headers and the
 * connection it came on) into a Caller for the services (caller.ts), `anonymous` when the request
 * proves nothing, with the reason it is refused. The JSON API refuses anonymous callers with 401 on
 * every path before reading the body (json-api.ts).
 *
 * Proxy mode without a token (slapproxy) trusts whoever reaches the loopback listener; with a token
 * (the standalone's local secret, `proxy start --token-file`) only `Authorization: Bearer <token>`
 * makes the local caller. The token is kept as its SHA-256 digest and compared in constant time.
 * Master mode (certificates, users, registration tokens) is master-authentication.ts.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { SlapError } from '../../core/errors.ts';
import { accessTokenHash } from '../../lib/access-token.ts';
import type { Caller } from '../services/caller.ts';

/** What an Authenticator sees of a request. */
export interface AuthenticationRequest {
  headers: IncomingHttpHeaders;
  /** The connection (a TLSSocket on a TLS listener: its peer certificate is a credential). */
  socket: Socket;
  /** The client's address. */
  ip: string;
}

/** Who the request proves to be; an anonymous caller comes with the reason it is refused. */
export type Authentication =
  | { caller: Exclude<Caller, { kind: 'anonymous' }>; refusal?: undefined }
  | {
      caller: Extract<Caller, { kind: 'anonymous' }>;
      /** The 401's title: says what is wrong, never shows a credential. */
      refusal: string;
      /** True when a credential was presented and refused (counted as a failed authentication). */
      failed: boolean;
    };

export interface Authenticator {
  authenticate(request: AuthenticationRequest): Promise<Authentication>;
}

/** The authentication of a request that proves nothing. */
export function refused(refusal: string, failed: boolean): Authentication {
  return { caller: { kind: 'anonymous' }, refusal, failed };
}

/** slapproxy's rule: whoever reaches the (loopback) listener is the local caller. */
export const openProxyAuthenticator: Authenticator = {
  authenticate: () => Promise.resolve({ caller: { kind: 'local' } }),
};

const BEARER = /^Bearer +([^\s]+) *$/i;

/** The bearer token given by the headers, if any. */
export function presentedToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (header === undefined) return undefined;
  return BEARER.exec(header)?.[1];
}

/** The refusal of an Authorization header that holds no bearer token, or undefined when it holds one. */
export function bearerHeaderProblem(headers: IncomingHttpHeaders): string | undefined {
  if (headers.authorization !== undefined && presentedToken(headers) === undefined)
    return 'The Authorization header is not of the form: Bearer <token>.';
  return undefined;
}

/** Proxy mode with a local secret: the holder of `token` is the local caller, anyone else anonymous. */
export function bearerTokenAuthenticator(token: string): Authenticator {
  if (token === '') throw new SlapError('SLAP_ERR_CONFIG', 'the access token is empty');
  const expected = Buffer.from(accessTokenHash(token));
  const authenticate = ({ headers }: AuthenticationRequest): Authentication => {
    if (headers.authorization === undefined)
      return refused(
        'This master requires an access token: send the header Authorization: Bearer <token>.',
        false,
      );
    const presented = presentedToken(headers);
    if (presented === undefined) return refused(bearerHeaderProblem(headers) ?? '', true);
    if (timingSafeEqual(Buffer.from(accessTokenHash(presented)), expected))
      return { caller: { kind: 'local' } };
    return refused('The access token is not valid for this master.', true);
  };
  return { authenticate: (request) => Promise.resolve(authenticate(request)) };
}

/** The challenge sent with every 401 (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer realm="SlapOS master"';

/**
 * `authenticator`, but the holder of the scrape token (`--metrics-token-file`) is the metrics scraper
 * (who may only read `/metrics`). For the metrics route only: the API does not know that token.
 */
export function withScrapeToken(scrapeToken: string, authenticator: Authenticator): Authenticator {
  if (scrapeToken === '') throw new SlapError('SLAP_ERR_CONFIG', 'the metrics token is empty');
  const expected = Buffer.from(accessTokenHash(scrapeToken));
  return {
    authenticate(request) {
      const presented = presentedToken(request.headers);
      if (presented !== undefined && timingSafeEqual(Buffer.from(accessTokenHash(presented)), expected))
        return Promise.resolve({ caller: { kind: 'metrics_scraper' } });
      return authenticator.authenticate(request);
    },
  };
}
