/**
 * Bearer access tokens of a master (the standalone's local secret, `slapos proxy start
 * --token-file`): created random, written 0600, read back strictly. A token is an RFC 6750
 * `b64token` (letters, digits, `-._~+/`, trailing `=`), so that it goes as it is into an
 * `Authorization` header and an INI value. Messages never show a token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SlapError } from '../core/errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { ACCESS_TOKEN_RULE, isAccessToken } from '../core/access-token.ts';

export { ACCESS_TOKEN_RULE, isAccessToken, MASTER_TOKEN_OPTION } from '../core/access-token.ts';

/** A new random token: 32 bytes, base64url (43 characters). */
export function createAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

/** How a master stores a token: its SHA-256 digest, lowercase hex (the token itself is never stored). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The token held by `path` (its content, one trailing newline allowed); the file must be 0600 or stricter. */
export async function readAccessTokenFile(path: string): Promise<string> {
  let text: string;
  let mode: number;
  try {
    mode = (await stat(path)).mode;
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `cannot read the token file ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if ((mode & 0o077) !== 0)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `the token file ${path} can be read or written by other users (mode ${(mode & 0o777).toString(8)})`,
      { hint: `chmod 600 ${path}` },
    );
  const token = text.replace(/\r?\n$/, '');
  if (!isAccessToken(token))
    throw new SlapError('SLAP_ERR_CONFIG', `the token file ${path} does not hold a valid token`, {
      hint: `it must hold only the token: ${ACCESS_TOKEN_RULE}`,
    });
  return token;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

/** The bearer token of an `Authorization` header, if it holds one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
}

/**
 * A check of presented tokens against `token`, comparing their SHA-256 digests in constant time
 * (the token itself is not kept).
 */
export function tokenMatcher(token: string): (presented: string) => boolean {
  const expected = Buffer.from(accessTokenHash(token));
  return (presented) => timingSafeEqual(Buffer.from(accessTokenHash(presented)), expected);
}

/** Writes `token` (just the token, no newline) to `path`, mode 0600. */
export async function writeAccessTokenFile(path: string, token: string): Promise<void> {
  await writeFileAtomic(path, token, { mode: 0o600 });
}
