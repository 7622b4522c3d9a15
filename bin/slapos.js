#!/usr/bin/env node
// The `slapos` command: runs the compiled CLI (built by `npm ci` through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('slapos: the CLI is not built yet; run `npm run build` in the repository first\n');
  process.exit(70);
}
const { runCli } = await import(main);
process.exitCode = await runCli(process.argv);
