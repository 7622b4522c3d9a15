/**
 * One-file bundles of the packages whose many modules made most of a master's start-up time and
 * memory: Kysely (263 ES modules) and fastify (134 CommonJS modules with its dependencies). The
 * build writes them to dist/vendor/ (scripts/bundle-vendor.ts) with, beside each, the version it was
 * made from; src/lib/kysely.ts and src/lib/fastify.ts load a bundle only if it was made from the
 * installed version, the package otherwise (then only more slowly).
 */
import { existsSync, readFileSync } from 'node:fs';

export interface VendorBundle {
  /** The package. */
  name: string;
  /** The bundle's file name in dist/vendor/. */
  file: string;
  format: 'esm' | 'cjs';
  /**
   * Dependencies left out of the bundle (loaded only in cases the master does not use, or shared
   * with the project's code); the bundle requires them from dist/vendor/, so the build checks that
   * they resolve there to the same files as from the package.
   */
  external: readonly string[];
}

export const VENDOR_BUNDLES = {
  kysely: { name: 'kysely', file: 'kysely.js', format: 'esm', external: [] },
  fastify: {
    name: 'fastify',
    file: 'fastify.cjs',
    format: 'cjs',
    // The logger (the project's too), the schema compilers and the injector: loaded when used.
    external: [
      'pino',
      'ajv',
      'ajv-formats',
      '@fastify/ajv-compiler',
      '@fastify/fast-json-stringify-compiler',
      'fast-json-stringify',
      'json-schema-ref-resolver',
      'light-my-request',
      'abstract-logging',
    ],
  },
} as const satisfies Record<string, VendorBundle>;

/** What the build writes beside a bundle (`<name>.json`). */
export interface VendorBundleInfo {
  /** The version of the package the bundle was made from. */
  version: string;
}

/**
 * The version of the package `name` whose module `entryUrl` is (its nearest package.json of that
 * name), or undefined if there is none.
 */
export function installedVersion(name: string, entryUrl: string): string | undefined {
  for (let depth = 0; depth < 6; depth++) {
    const up = depth === 0 ? './' : '../'.repeat(depth);
    try {
      const manifest = JSON.parse(readFileSync(new URL(`${up}package.json`, entryUrl), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === name) return typeof manifest.version === 'string' ? manifest.version : undefined;
    } catch {
      // no package.json at this level: look further up
    }
  }
  return undefined;
}

/**
 * The URL of `bundle` in `vendorDirectory` if it was made from `version`; undefined (use the
 * package) if there is none, its description is unreadable, or it is of another version.
 */
export function usableBundle(
  vendorDirectory: URL,
  bundle: VendorBundle,
  version: string | undefined,
): URL | undefined {
  if (version === undefined) return undefined;
  try {
    const info = JSON.parse(
      readFileSync(new URL(`${bundle.name}.json`, vendorDirectory), 'utf8'),
    ) as Partial<VendorBundleInfo>;
    if (info.version !== version) return undefined;
  } catch {
    return undefined;
  }
  const url = new URL(bundle.file, vendorDirectory);
  return existsSync(url) ? url : undefined;
}

/** Where the compiled facades (dist/src/lib/) find the bundles; from source (tsx) there are none. */
export const VENDOR_DIRECTORY = new URL('../../vendor/', import.meta.url);

/** The specifier to import for `bundle`: its bundle's URL if usable, else the package's name. */
export function vendorSpecifier(bundle: VendorBundle): string {
  const usable = usableBundle(
    VENDOR_DIRECTORY,
    bundle,
    installedVersion(bundle.name, import.meta.resolve(bundle.name)),
  );
  return usable?.href ?? bundle.name;
}
