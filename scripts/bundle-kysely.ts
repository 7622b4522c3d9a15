/**
 * Writes dist/vendor/kysely.js, Kysely's ES modules bundled into one (and kysely.json, the version
 * it was made from), which src/lib/kysely.ts loads instead of the package: `npm run build` runs it
 * after the compilation. Without esbuild (an install without the development packages) it writes
 * nothing and says so: the package is then loaded, only more slowly.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  installedKyselyVersion,
  KYSELY_BUNDLE_FILE,
  KYSELY_BUNDLE_INFO_FILE,
  type KyselyBundleInfo,
} from '../src/lib/kysely-bundle.ts';

// Run compiled (dist/scripts/) by the build, or from source with tsx.
const root = new URL(import.meta.url.endsWith('.ts') ? '../' : '../../', import.meta.url);
const vendor = new URL('dist/vendor/', root);
const esbuild = fileURLToPath(new URL('node_modules/.bin/esbuild', root));
const entry = import.meta.resolve('kysely');
const version = installedKyselyVersion(entry);

// A bundle of another version must not stay (kysely.ts would refuse it, but it would be confusing).
await rm(new URL(KYSELY_BUNDLE_INFO_FILE, vendor), { force: true });
await rm(new URL(KYSELY_BUNDLE_FILE, vendor), { force: true });
if (version === undefined) throw new Error(`cannot read the version of kysely (${entry})`);
if (!existsSync(esbuild)) {
  process.stderr.write(
    'bundle-kysely: no esbuild (development packages not installed): Kysely loads unbundled\n',
  );
} else {
  await mkdir(vendor, { recursive: true });
  await promisify(execFile)(esbuild, [
    fileURLToPath(entry),
    '--bundle',
    '--format=esm',
    '--platform=node',
    '--target=node20',
    '--legal-comments=inline',
    `--banner:js=/* Kysely ${version} (MIT license), bundled by scripts/bundle-kysely.ts: do not edit. */`,
    '--log-level=warning',
    `--outfile=${fileURLToPath(new URL(KYSELY_BUNDLE_FILE, vendor))}`,
  ]);
  const info: KyselyBundleInfo = { version };
  await writeFile(new URL(KYSELY_BUNDLE_INFO_FILE, vendor), `${JSON.stringify(info)}\n`);
}
