/**
 * Deleting the paths a part owns (its recorded `__buildout_installed__` paths, or what a failed
 * install created). A recorded path is data (the record can be old, damaged, or hold values that
 * came from a requester), so it is only deleted when it lies strictly inside one of the
 * directories the run may own — the buildout directory and the shared-parts directories — after
 * resolving `..` and every symlink of its parent. A symlink at the path itself is removed, never
 * followed. Anything else is refused and reported (docs/buildout.md, "Uninstalling").
 */
import { lstat, realpath, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';

export interface OwnedPathOptions {
  /** `buildout:directory`: relative paths are relative to it. */
  directory: string;
  /** The directories a part may own paths in (the buildout directory included). */
  roots: readonly string[];
  /** Told of each refused path (not deleted). */
  onRefused: (path: string, reason: string) => void;
}

async function real(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch {
    return undefined;
  }
}

function inside(path: string, root: string): boolean {
  const prefix = root.endsWith(sep) ? root : root + sep;
  return path.startsWith(prefix) && path.length > prefix.length;
}

type Containment = { kind: 'inside'; path: string } | { kind: 'outside' } | { kind: 'missing' };

/** Where `path` really is, and whether that is strictly inside one of `roots` (missing: no parent). */
async function contain(
  path: string,
  options: Pick<OwnedPathOptions, 'directory' | 'roots'>,
): Promise<Containment> {
  const absolute = resolve(options.directory, path);
  const parent = await real(dirname(absolute));
  if (parent === undefined) return { kind: 'missing' };
  const target = join(parent, basename(absolute));
  for (const root of options.roots) {
    const realRoot = await real(resolve(options.directory, root));
    if (realRoot !== undefined && inside(target, realRoot)) return { kind: 'inside', path: target };
  }
  return { kind: 'outside' };
}

/** Deletes a file, symlink or directory tree owned by a part (missing is fine); see the module comment. */
export async function removeOwnedPath(path: string, options: OwnedPathOptions): Promise<void> {
  if (path.includes('\0')) {
    options.onRefused(path, 'the path contains a NUL character');
    return;
  }
  const target = await contain(path, options);
  if (target.kind === 'missing') return;
  if (target.kind === 'outside') {
    options.onRefused(path, 'it is outside the directories the part may own');
    return;
  }
  const info = await lstat(target.path).catch(() => undefined);
  if (!info) return;
  await rm(target.path, { recursive: info.isDirectory(), force: true });
}
