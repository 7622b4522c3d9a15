/**
 * Upload tokens of a cache server: random, shown once (written to a 0600 file or printed), kept
 * in the index only as their SHA-256 digest with a label. The first start of a server whose index
 * has no token makes one labelled `initial` into `upload.token` (the standalone's node reads it).
 */
import { rm } from 'node:fs/promises';
import { createAccessToken, readAccessTokenFile, writeAccessTokenFile } from '../lib/access-token.ts';
import { pathExists } from '../lib/path-exists.ts';
import { SlapError } from '../core/errors.ts';
import type { CacheIndex } from './cache-index.ts';
import type { CacheLayout } from './layout.ts';
import { uploadTokenHash } from './upload-auth.ts';

export const INITIAL_TOKEN_LABEL = 'initial';

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const TOKEN_LABEL_RULE = '1 to 64 letters, digits or ._@- (starting with a letter or digit)';

export function checkTokenLabel(label: string): string {
  if (!LABEL.test(label))
    throw new SlapError('SLAP_ERR_USAGE', `the token label must be ${TOKEN_LABEL_RULE}`);
  return label;
}

/** A new upload token labelled `label`, its digest recorded in `index`. */
export function createUploadToken(index: CacheIndex, label: string): string {
  const token = createAccessToken();
  index.addToken(uploadTokenHash(token), checkTokenLabel(label));
  return token;
}

/**
 * At the first start (no token in the index): a token labelled `initial`, written to
 * `upload.token` (0600) before its digest is recorded, so that a crash in between is finished by
 * the next start. Returns whether the index got it.
 */
export async function ensureInitialToken(layout: CacheLayout, index: CacheIndex): Promise<boolean> {
  if (index.counts().tokens > 0) return false;
  let token: string;
  if (await pathExists(layout.tokenFile)) token = await readAccessTokenFile(layout.tokenFile);
  else {
    token = createAccessToken();
    await writeAccessTokenFile(layout.tokenFile, token);
  }
  index.addToken(uploadTokenHash(token), INITIAL_TOKEN_LABEL);
  return true;
}

/** Revokes the token labelled `label` (and removes `upload.token` with the initial one). */
export async function revokeUploadToken(
  layout: CacheLayout,
  index: CacheIndex,
  label: string,
): Promise<boolean> {
  const revoked = index.revokeToken(label);
  if (label === INITIAL_TOKEN_LABEL) await rm(layout.tokenFile, { force: true });
  return revoked;
}
