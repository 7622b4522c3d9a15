/**
 * The files of a SlapOS checkout the compatibility report looks at. Instance profiles:
 * `software/NAME/instance*.cfg*` and `stack/**\/instance*.cfg*`, without test-only trees (any
 * directory named `test` or `testsuite`). Software profiles: `software/NAME/software.cfg`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const INSTANCE_NAME = /^instance[^/]*\.cfg/;
const TEST_DIRECTORIES = new Set(['test', 'testsuite']);

function directories(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path, { withFileTypes: true })
    .filter(
      (entry) =>
        entry.isDirectory() ||
        (entry.isSymbolicLink() &&
          statSync(join(path, entry.name), { throwIfNoEntry: false })?.isDirectory()),
    )
    .map((entry) => entry.name)
    .sort();
}

function files(path: string): string[] {
  return readdirSync(path, { withFileTypes: true })
    .filter(
      (entry) =>
        entry.isFile() ||
        (entry.isSymbolicLink() && statSync(join(path, entry.name), { throwIfNoEntry: false })?.isFile()),
    )
    .map((entry) => entry.name)
    .sort();
}

function walk(path: string, out: string[]): void {
  for (const name of files(path)) if (INSTANCE_NAME.test(name)) out.push(join(path, name));
  for (const name of directories(path)) {
    if (!TEST_DIRECTORIES.has(name) && !name.startsWith('.')) walk(join(path, name), out);
  }
}

/** Absolute paths of the instance profiles of the checkout at `root`, sorted by relative path. */
export function instanceProfiles(root: string): string[] {
  const out: string[] = [];
  for (const name of directories(join(root, 'software'))) {
    if (TEST_DIRECTORIES.has(name)) continue;
    const dir = join(root, 'software', name);
    for (const file of files(dir)) if (INSTANCE_NAME.test(file)) out.push(join(dir, file));
  }
  if (existsSync(join(root, 'stack'))) walk(join(root, 'stack'), out);
  return out.sort((a, b) => compare(relative(root, a), relative(root, b)));
}

/** Absolute paths of `software/NAME/software.cfg`, sorted. */
export function softwareProfiles(root: string): string[] {
  return directories(join(root, 'software'))
    .map((name) => join(root, 'software', name, 'software.cfg'))
    .filter((path) => existsSync(path));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `root`-relative path with `/` separators (for output). */
export function relativePath(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}
