/** The original's free space check before a build or an instance run (software/instance_min_free_space). */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SlapError } from '../core/errors.ts';

/** Bytes available to non-root users on the file system of `path` (or of its nearest existing parent). */
export async function freeBytes(path: string): Promise<number> {
  let current = path;
  for (;;) {
    try {
      const info = await statfs(current);
      return info.bavail * info.bsize;
    } catch (error) {
      const parent = dirname(current);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw error;
      current = parent;
    }
  }
}

export async function requireFreeSpace(path: string, minBytes: number, option: string): Promise<void> {
  if (minBytes <= 0) return;
  const free = await freeBytes(path);
  if (free < minBytes)
    throw new SlapError(
      'SLAP_ERR_DISK_FULL',
      `only ${mebibytes(free)} free for ${path}, ${mebibytes(minBytes)} required (${option})`,
      {
        hint: `free some space, or lower ${option} in slapos.cfg`,
        details: { path, free, required: minBytes },
      },
    );
}

function mebibytes(bytes: number): string {
  return `${Math.floor(bytes / 1024 / 1024)} MiB`;
}
