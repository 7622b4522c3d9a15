/**
 * The command running one of this package's service entry points with the node running us: the
 * wrappers of simplehttpserver and certificate_authority exec it (the originals exec Python
 * scripts calling their own modules). The TypeScript source needs the tsx loader.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `[node, (--import tsx,) <dir of this module>/<name>.js|.ts]`. */
export function nodeMainCommand(name: string): string[] {
  const self = fileURLToPath(import.meta.url);
  const main = fileURLToPath(new URL(`./${name}${extname(self)}`, import.meta.url));
  if (main.endsWith('.ts')) return [process.execPath, '--import', import.meta.resolve('tsx'), main];
  return [process.execPath, main];
}
