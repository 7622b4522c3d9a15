/**
 * Where the one-file bundle of Kysely is (dist/vendor/kysely.js, written after the compilation by
 * scripts/bundle-kysely.ts), and whether it may stand for the installed package: only if it was
 * made from the same version. Kysely is 263 ES modules; loading them was a third of a master's
 * start-up time and 15 MB of its memory, while the bundle, the same code in one module, loads in a
 * fraction of that.
 */
import { existsSync, readFileSync } from 'node:fs';

/** What scripts/bundle-kysely.ts writes beside the bundle. */
export interface KyselyBundleInfo {
  /** The version of the package the bundle was made from. */
  version: string;
}

export const KYSELY_BUNDLE_FILE = 'kysely.js';
export const KYSELY_BUNDLE_INFO_FILE = 'kysely.json';

/** The installed package's version (read from its package.json, found from the module it resolves to). */
export function installedKyselyVersion(entryUrl: string): string | undefined {
  try {
    const manifest = new URL('../../package.json', entryUrl); // <package>/dist/esm/index.js
    const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown; version?: unknown };
    return parsed.name === 'kysely' && typeof parsed.version === 'string' ? parsed.version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The URL of the bundle in `vendorDirectory` if it was made from `installedVersion`; undefined
 * (use the package) if there is none, its description is unreadable, or it is of another version.
 */
export function usableKyselyBundle(
  vendorDirectory: URL,
  installedVersion: string | undefined,
): URL | undefined {
  if (installedVersion === undefined) return undefined;
  try {
    const info = JSON.parse(
      readFileSync(new URL(KYSELY_BUNDLE_INFO_FILE, vendorDirectory), 'utf8'),
    ) as Partial<KyselyBundleInfo>;
    if (info.version !== installedVersion) return undefined;
    const bundle = new URL(KYSELY_BUNDLE_FILE, vendorDirectory);
    return existsSync(bundle) ? bundle : undefined;
  } catch {
    return undefined;
  }
}
