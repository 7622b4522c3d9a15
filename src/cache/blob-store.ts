/**
 * shacache's store: blobs addressed by their sha512. An upload streams into a file under
 * `incoming/`, through sha512 and a size limit, is flushed to the disk, then renamed to
 * `blobs/<aa>/<sha512>`: a blob is either whole or absent, never half written, and two uploads of
 * the same content end in the same file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import type { CacheLayout } from './layout.ts';

const SHA512_HEX = /^[0-9a-fA-F]{128}$/;

/** The sha512 named by `text` (128 hexadecimal digits, any case), lowercase; undefined when it is not one. */
export function parseSha512(text: string): string | undefined {
  return SHA512_HEX.test(text) ? text.toLowerCase() : undefined;
}

export interface StoredBlob {
  sha512: string;
  size: number;
  /** False when the store held that content already. */
  created: boolean;
}

export interface BlobFile {
  path: string;
  size: number;
}

/** The 413 of an upload over the limit. */
export function blobTooLarge(maxBytes: number): SlapError {
  return new SlapError(
    'SLAP_ERR_PAYLOAD_TOO_LARGE',
    `The upload is over the size limit of ${maxBytes} bytes.`,
  );
}

function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export class BlobStore {
  private constructor(private readonly layout: CacheLayout) {}

  /** The store of `layout`, its directories made; uploads left half done by a crash are removed. */
  static async open(layout: CacheLayout): Promise<BlobStore> {
    await mkdir(layout.blobs, { recursive: true, mode: 0o700 });
    await rm(layout.incoming, { recursive: true, force: true });
    await mkdir(layout.incoming, { recursive: true, mode: 0o700 });
    return new BlobStore(layout);
  }

  /** Where the blob `sha512` (lowercase, checked by the caller) lives. */
  path(sha512: string): string {
    return join(this.layout.blobs, sha512.slice(0, 2), sha512);
  }

  /** The blob `sha512`, if the store holds it. */
  async find(sha512: string): Promise<BlobFile | undefined> {
    const path = this.path(sha512);
    try {
      const info = await stat(path);
      return info.isFile() ? { path, size: info.size } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Stores what `source` yields, refusing it (413) past `maxBytes`. An aborted or failed upload
   * leaves nothing behind.
   */
  async put(source: AsyncIterable<Uint8Array>, options: { maxBytes: number }): Promise<StoredBlob> {
    const incoming = join(this.layout.incoming, `upload-${randomBytes(12).toString('hex')}`);
    const hash = createHash('sha512');
    let size = 0;
    try {
      const handle = await open(incoming, 'wx', 0o644);
      try {
        for await (const chunk of source) {
          size += chunk.byteLength;
          if (size > options.maxBytes) throw blobTooLarge(options.maxBytes);
          hash.update(chunk);
          await handle.write(chunk);
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      const sha512 = hash.digest('hex');
      const path = this.path(sha512);
      const existed = (await this.find(sha512)) !== undefined;
      if (existed) {
        await rm(incoming, { force: true });
        return { sha512, size, created: false };
      }
      await mkdir(join(this.layout.blobs, sha512.slice(0, 2)), { recursive: true, mode: 0o700 });
      await rename(incoming, path);
      return { sha512, size, created: true };
    } catch (error) {
      await rm(incoming, { force: true });
      if (isDiskFull(error))
        throw new SlapError(
          'SLAP_ERR_DISK_FULL',
          'The cache server has no disk space left for this upload.',
          {
            cause: error,
          },
        );
      throw error;
    }
  }

  /** How many blobs the store of `layout` holds and their total size (read without opening it). */
  static async usage(layout: CacheLayout): Promise<{ blobs: number; bytes: number }> {
    let blobs = 0;
    let bytes = 0;
    for (const prefix of await readdir(layout.blobs).catch(() => [])) {
      const dir = join(layout.blobs, prefix);
      for (const name of await readdir(dir).catch(() => [])) {
        const info = await stat(join(dir, name)).catch(() => undefined);
        if (!info?.isFile()) continue;
        blobs++;
        bytes += info.size;
      }
    }
    return { blobs, bytes };
  }
}
