/**
 * Writes the vendor bundles (src/lib/vendor-bundles.ts) to dist/vendor/: each package bundled into
 * one file by esbuild, then `<name>.json` with the version it was made from (last, so that a bundle
 * being written is never taken), unless the bundle there was made the same way from the same
 * version. `npm run build` runs it after the compilation. A bundle that
 * cannot be made is left out, with a note: its package is then loaded, only more slowly (no esbuild
 * in an install without the development packages, or a dependency left out of the bundle that
 * would resolve to another file from dist/vendor/ than from the package).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  installedVersion,
  VENDOR_BUNDLES,
  type VendorBundle,
  type VendorBundleInfo,
} from '../src/lib/vendor-bundles.ts';

// Run compiled (dist/scripts/) by the build, or from source with tsx.
const root = new URL(import.meta.url.endsWith('.ts') ? '../' : '../../', import.meta.url);
const vendor = new URL('dist/vendor/', root);
const esbuild = fileURLToPath(new URL('node_modules/.bin/esbuild', root));

/** Why `bundle` cannot be made, or undefined. */
function obstacle(bundle: VendorBundle, entry: string): string | undefined {
  if (!existsSync(esbuild)) return 'no esbuild (development packages not installed)';
  const fromPackage = createRequire(entry);
  const fromVendor = createRequire(new URL(bundle.file, vendor));
  for (const dependency of bundle.external) {
    const resolve = (require: NodeJS.Require): string | undefined => {
      try {
        return require.resolve(dependency);
      } catch {
        return undefined;
      }
    };
    if (resolve(fromPackage) !== resolve(fromVendor))
      return `${dependency} resolves to another file from dist/vendor/ than from ${bundle.name}`;
  }
  return undefined;
}

/** What a bundle is made from: kept beside it, so that an up-to-date bundle is not made again. */
function recipe(bundle: VendorBundle, version: string): string {
  const info: VendorBundleInfo & Pick<VendorBundle, 'format' | 'external'> = {
    version,
    format: bundle.format,
    external: bundle.external,
  };
  return `${JSON.stringify(info)}\n`;
}

async function upToDate(bundle: VendorBundle, version: string): Promise<boolean> {
  try {
    const info = await readFile(new URL(`${bundle.name}.json`, vendor), 'utf8');
    return info === recipe(bundle, version) && existsSync(new URL(bundle.file, vendor));
  } catch {
    return false;
  }
}

await mkdir(vendor, { recursive: true });
for (const bundle of Object.values(VENDOR_BUNDLES)) {
  const entry = import.meta.resolve(bundle.name);
  const version = installedVersion(bundle.name, entry);
  if (version !== undefined && (await upToDate(bundle, version))) continue;
  await rm(new URL(`${bundle.name}.json`, vendor), { force: true });
  await rm(new URL(bundle.file, vendor), { force: true });
  if (version === undefined) throw new Error(`cannot read the version of ${bundle.name} (${entry})`);
  const problem = obstacle(bundle, entry);
  if (problem !== undefined) {
    process.stderr.write(`bundle-vendor: ${bundle.name} left unbundled: ${problem}\n`);
    continue;
  }
  await promisify(execFile)(esbuild, [
    fileURLToPath(entry),
    '--bundle',
    `--format=${bundle.format}`,
    '--platform=node',
    '--target=node20',
    '--legal-comments=inline',
    ...bundle.external.map((dependency) => `--external:${dependency}`),
    `--banner:js=/* ${bundle.name} ${version}, bundled by scripts/bundle-vendor.ts: do not edit. */`,
    '--log-level=warning',
    `--outfile=${fileURLToPath(new URL(bundle.file, vendor))}`,
  ]);
  await writeFile(new URL(`${bundle.name}.json`, vendor), recipe(bundle, version));
}
