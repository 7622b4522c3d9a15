/**
 * What protects the panel's forms and pages: the session cookie, the CSRF token every form carries,
 * the same-origin check of every POST, and the headers of every page (a strict content security
 * policy: no inline script or style can run even if some markup escaped the templates).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SlapError } from '../../core/errors.ts';

export const SESSION_COOKIE = 'slapos_session';
export const CSRF_FIELD = '_csrf';

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** The session secret a request's cookie holds (only a well-formed one). */
export function sessionSecretOf(headers: IncomingHttpHeaders): string | undefined {
  const cookie = headers.cookie;
  if (cookie === undefined) return undefined;
  for (const part of cookie.split(';')) {
    const equals = part.indexOf('=');
    if (equals < 0 || part.slice(0, equals).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(equals + 1).trim();
    if (/^[A-Za-z0-9_-]{43}$/.test(value)) return value;
  }
  return undefined;
}

/**
 * The Set-Cookie header of a session: HttpOnly (no script reads it), SameSite=Strict (no other site
 * sends it), limited to the panel's paths, and Secure on HTTPS. (On plain HTTP, which proxy mode
 * serves on loopback only, a Secure cookie could not be kept by every browser.)
 */
export function sessionCookie(secret: string, options: { maxAgeSeconds: number; secure: boolean }): string {
  const secure = options.secure ? '; Secure' : '';
  return `${SESSION_COOKIE}=${secret}; Path=/panel; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(options.maxAgeSeconds)}${secure}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', { maxAgeSeconds: 0, secure });
}

/**
 * The CSRF token of the forms shown to a requester: derived from what authenticates them (the session
 * secret, the Authorization header, or the master's own secret for callers without either), so it
 * needs no storage and no other site can compute it.
 */
export function csrfToken(basis: string): string {
  return createHash('sha256').update(`slapos panel csrf\0${basis}`, 'utf8').digest('base64url');
}

export function checkCsrfToken(presented: string | undefined, expected: string): void {
  const ok =
    presented !== undefined &&
    presented.length === expected.length &&
    timingSafeEqual(Buffer.from(presented), Buffer.from(expected));
  if (!ok)
    throw new SlapError(
      'SLAP_ERR_FORBIDDEN',
      'This form has expired or did not come from this panel: reload the page and send it again.',
    );
}

/**
 * Refuses a POST that a browser says comes from another site: its Origin is not this master's, or
 * its Sec-Fetch-Site is neither same-origin nor a user's own navigation.
 */
export function checkSameOrigin(headers: IncomingHttpHeaders, scheme: 'http' | 'https'): void {
  const origin = headers.origin;
  const fetchSite = headers['sec-fetch-site'];
  const host = headers.host;
  const expected = host === undefined ? undefined : `${scheme}://${host}`.toLowerCase();
  const crossOrigin =
    (origin !== undefined && (expected === undefined || origin.toLowerCase() !== expected)) ||
    (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none');
  if (crossOrigin)
    throw new SlapError('SLAP_ERR_FORBIDDEN', 'Forms of this panel are accepted from this panel only.');
}

/** Where to go after signing in: a panel path only (never another site, never `//host`). */
export function safeNextPath(next: string | null | undefined): string {
  if (
    next === null ||
    next === undefined ||
    next.length > 2000 ||
    !/^\/panel\/[^/\\]/.test(next) ||
    /[\u0000-\u001f\u007f\\]/.test(next)
  )
    return '/panel/services';
  return next;
}
