import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface AtomicWriteOptions {
  /** File mode of the result (default 0o644). Keys and secrets: 0o600. */
  mode?: number;
  /** Create missing parent directories (default true). */
  mkdirs?: boolean;
  /**
   * Flush the content to the disk before the rename (default true). False for a file that is only
   * a cache or a status, whose loss in a crash of the machine costs some work done again, not data:
   * it is still never torn, but many of them written at once do not wait for the disk.
   */
  durable?: boolean;
}

/**
 * Writes a file so that readers see either the old or the new content, never a torn one:
 * write a temporary file beside it, fsync (unless `durable` is false), then rename over the target.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.mkdirs !== false) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.chmod(options.mode ?? 0o644);
    if (options.durable !== false) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
