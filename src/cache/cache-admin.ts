/**
 * What the CLI does on a cache server's directory, running or not (the index is SQLite in WAL
 * mode: a token made here is accepted by the running server at once): upload tokens, status.
 */
import { resolve } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { writeAccessTokenFile } from '../lib/access-token.ts';
import { pathExists } from '../lib/path-exists.ts';
import { lockHolder } from '../lib/pid-lock.ts';
import { BlobStore } from './blob-store.ts';
import { CacheIndex, type UploadTokenRecord } from './cache-index.ts';
import { cacheLayout, type CacheLayout } from './layout.ts';
import { createUploadToken, revokeUploadToken } from './upload-tokens.ts';

async function withIndex<T>(
  dir: string,
  work: (index: CacheIndex, layout: CacheLayout) => Promise<T> | T,
): Promise<T> {
  const layout = cacheLayout(resolve(dir));
  if (!(await pathExists(layout.index)))
    throw new SlapError(
      'SLAP_ERR_NOT_FOUND',
      `${layout.dir} is not a cache server directory (no index.sqlite)`,
      {
        hint: 'slapos cache start --dir DIR creates one',
      },
    );
  const index = CacheIndex.open(layout.index);
  try {
    return await work(index, layout);
  } finally {
    index.close();
  }
}

/**
 * A new upload token labelled `label`: written to `output` (0600) when given, else returned to be
 * shown once. Only its digest stays in the index.
 */
export async function addUploadToken(
  dir: string,
  options: { label: string; output?: string | undefined },
): Promise<{ label: string; token?: string; file?: string }> {
  return withIndex(dir, async (index) => {
    const token = createUploadToken(index, options.label);
    if (options.output === undefined) return { label: options.label, token };
    try {
      await writeAccessTokenFile(options.output, token);
    } catch (error) {
      index.revokeToken(options.label);
      throw new SlapError('SLAP_ERR_CONFIG', `cannot write ${options.output}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { label: options.label, file: options.output };
  });
}

export function listUploadTokens(dir: string): Promise<UploadTokenRecord[]> {
  return withIndex(dir, (index) => index.tokens());
}

/** Revokes the token labelled `label` (refused when there is none). */
export async function removeUploadToken(dir: string, label: string): Promise<void> {
  await withIndex(dir, async (index, layout) => {
    if (!(await revokeUploadToken(layout, index, label)))
      throw new SlapError('SLAP_ERR_NOT_FOUND', `no upload token labelled ${JSON.stringify(label)}`, {
        hint: 'slapos cache token list shows them',
      });
  });
}

export interface CacheStatus {
  dir: string;
  /** The pid of the server serving the directory, or null. */
  pid: number | null;
  running: boolean;
  blobs: number;
  bytes: number;
  keys: number;
  entries: number;
  tokens: number;
}

export async function cacheStatus(dir: string): Promise<CacheStatus> {
  return withIndex(dir, async (index, layout) => {
    const pid = (await lockHolder(layout.lockFile)) ?? null;
    const { blobs, bytes } = await BlobStore.usage(layout);
    return { dir: layout.dir, pid, running: pid !== null, blobs, bytes, ...index.counts() };
  });
}
