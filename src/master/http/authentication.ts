/**
 * Who is calling, as the transport proves it: an Authenticator turns a request's headers into a
 * Caller for the services (caller.ts), `anonymous` when the request proves nothing. The JSON API
 * refuses anonymous callers with 401 on every path before reading the body (json-api.ts).
 *
 * Proxy mode without a token (slapproxy) trusts whoever reaches the loopback listener; with a token
 * (the standalone's local secret, `proxy start --token-file`) only `Authorization: Bearer <token>`
 * makes the local caller. The token is kept as its SHA-256 digest and compared in constant time.
 * Master mode (certificates, users) adds its own Authenticators here.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SlapError } from '../../core/errors.ts';
import { ANONYMOUS_CALLER, LOCAL_CALLER, type Caller } from '../services/caller.ts';

export interface Authenticator {
  /** The caller the request proves to be (`anonymous` when it proves nothing). */
  authenticate(headers: IncomingHttpHeaders): Caller;
  /** Why an anonymous request is refused (the 401's title; never shows a credential). */
  refusal(headers: IncomingHttpHeaders): string;
}

/** slapproxy's rule: whoever reaches the (loopback) listener is the local caller. */
export const openProxyAuthenticator: Authenticator = {
  authenticate: () => LOCAL_CALLER,
  refusal: () => 'Not authenticated.',
};

const BEARER = /^Bearer +([^\s]+) *$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The bearer token given by the headers, if any. */
function presentedToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (header === undefined) return undefined;
  return BEARER.exec(header)?.[1];
}

/** Proxy mode with a local secret: the holder of `token` is the local caller, anyone else anonymous. */
export function bearerTokenAuthenticator(token: string): Authenticator {
  if (token === '') throw new SlapError('SLAP_ERR_CONFIG', 'the access token is empty');
  const expected = digest(token);
  return {
    authenticate(headers) {
      const presented = presentedToken(headers);
      if (presented === undefined) return ANONYMOUS_CALLER;
      return timingSafeEqual(digest(presented), expected) ? LOCAL_CALLER : ANONYMOUS_CALLER;
    },
    refusal(headers) {
      if (headers.authorization === undefined)
        return 'This master requires an access token: send the header Authorization: Bearer <token>.';
      if (presentedToken(headers) === undefined)
        return 'The Authorization header is not of the form: Bearer <token>.';
      return 'The access token is not valid for this master.';
    },
  };
}

/** The challenge sent with every 401 (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer realm="SlapOS master"';
