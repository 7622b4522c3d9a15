/**
 * The shape of a master's bearer access token (RFC 6750 `b64token`: letters, digits, `-._~+/`,
 * trailing `=`), so that it goes as it is into an `Authorization` header and an INI value. No I/O:
 * client commands check a token without loading what creates or stores one (src/lib/access-token.ts).
 */
/** The option of slapos.cfg (`[slapos]`, or `[slapconsole]` for the client) holding a master's token. */
export const MASTER_TOKEN_OPTION = 'master_token';

const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MIN_LENGTH = 16;
const MAX_LENGTH = 4096;

/** True for a well-formed token (long enough to be a secret). */
export function isAccessToken(text: string): boolean {
  return text.length >= MIN_LENGTH && text.length <= MAX_LENGTH && TOKEN.test(text);
}

/** The rule a token must follow, for error messages. */
export const ACCESS_TOKEN_RULE = `${MIN_LENGTH} to ${MAX_LENGTH} characters among letters, digits and -._~+/ (then = padding)`;
