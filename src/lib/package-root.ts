/**
 * Where this package is installed, to run its own `slapos` command in another process (a buildout as
 * a partition user, the supervisor's watchdog): the directory holding its package.json, found by
 * walking up from this module (the depth differs between `src/` under tsx and `dist/src/`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
      if (name === 'slapos-ts') return (cached = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the slapos-ts package root');
    dir = parent;
  }
}

/** `bin/slapos.js` of this package (runs the compiled CLI). */
export function slaposBinPath(): string {
  return join(packageRoot(), 'bin', 'slapos.js');
}
