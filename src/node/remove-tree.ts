/**
 * Deleting what the node owns: a software directory, the content of a destroyed partition. Builds
 * leave read-only directories behind (the original chmods and retries); so do we.
 */
import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Removes a file or directory tree; missing is fine. */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

/** Removes every entry of `directory` except those named in `keep`; the directory itself stays. */
export async function emptyDirectory(directory: string, keep: readonly string[] = []): Promise<void> {
  for (const name of await readdir(directory)) {
    if (!keep.includes(name)) await removeTree(join(directory, name));
  }
}

async function makeWritable(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isDirectory()) return;
  await chmod(path, (info.mode & 0o7777) | 0o700).catch(() => undefined);
  for (const name of await readdir(path).catch(() => [])) await makeWritable(join(path, name));
}
