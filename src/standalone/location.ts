/**
 * Where a standalone SlapOS lives (docs/standalone.md): its directory and its slapos.cfg. Kept apart
 * from layout.ts so that client commands can name a nearby standalone without loading the node.
 */
import { join, resolve } from 'node:path';

export const DEFAULT_STANDALONE_DIR = '.slapos';

/** `--dir`, else `$SLAPOS_STANDALONE_DIR`, else `./.slapos`, absolute. */
export function resolveStandaloneDir(
  dir: string | undefined,
  options: { env: NodeJS.ProcessEnv; cwd: string },
): string {
  return resolve(options.cwd, dir ?? (options.env.SLAPOS_STANDALONE_DIR || DEFAULT_STANDALONE_DIR));
}

/** slapos.cfg of the standalone in `dir` (the node's, the master's and the client's configuration). */
export function standaloneConfigFile(dir: string): string {
  return join(dir, 'etc', 'slapos.cfg');
}
