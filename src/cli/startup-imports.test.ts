/**
 * The CLI starts fast because every command loads its implementation when it runs (dynamic
 * `import()`), not at start-up: `slapos --help` or `slapos service list` must not load the master's
 * web server and database, nor the HTTP client, nor the profile engine. This walks the static
 * (non-type) imports from the CLI's entry point and fails if one of the heavy packages is reachable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This folder's TypeScript sources (the tests also run compiled, from dist/src/cli). */
const SOURCE_DIR = dirname(fileURLToPath(import.meta.url)).replace(
  `${sep}dist${sep}src${sep}`,
  `${sep}src${sep}`,
);

const HEAVY = ['fastify', 'kysely', 'better-sqlite3', 'undici', 'ajv', 'fast-xml-parser', 'pino'];

const STATIC_IMPORT = /^import\s+([\s\S]*?)\s+from\s+'([^']+)';/gm;

/** The specifiers a module imports for their values (type-only imports erase at compile time). */
function valueImports(file: string): string[] {
  const specifiers: string[] = [];
  for (const match of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
    const clause = match[1] ?? '';
    const specifier = match[2] ?? '';
    if (clause.startsWith('type ')) continue;
    const named = /^\{([\s\S]*)\}$/.exec(clause.trim());
    const names = named?.[1]
      ?.split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    if (names && names.every((name) => name.startsWith('type '))) continue;
    specifiers.push(specifier);
  }
  return specifiers;
}

/** Modules that load a package by a computed `import()` (its one-file bundle or itself): vendor-bundles.ts. */
const VENDOR_FACADES = new Map([
  [resolve(SOURCE_DIR, '..', 'lib', 'kysely.ts'), 'kysely'],
  [resolve(SOURCE_DIR, '..', 'lib', 'fastify.ts'), 'fastify'],
]);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Heavy package (of `heavy`) → the chain of modules that loads it at start-up. */
function heavyAtStartup(entry: string, heavy: readonly string[] = HEAVY): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const parent = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  const chain = (file: string): string[] => {
    const result: string[] = [];
    for (let at: string | undefined = file; at !== undefined; at = parent.get(at)) result.push(at);
    return result;
  };
  while (queue.length > 0) {
    const file = queue.shift() as string;
    const facadeOf = VENDOR_FACADES.get(file);
    if (facadeOf !== undefined && heavy.includes(facadeOf) && !found.has(facadeOf))
      found.set(facadeOf, chain(file));
    for (const specifier of valueImports(file)) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        if (!parent.has(target)) {
          parent.set(target, file);
          queue.push(target);
        }
      } else if (heavy.includes(packageName(specifier)) && !found.has(packageName(specifier))) {
        found.set(packageName(specifier), chain(file));
      }
    }
  }
  return found;
}

test('the CLI loads no heavy package at start-up (commands import their implementation when they run)', () => {
  // main.ts, and the command files it loads to register the command that runs (all for --help).
  const commands = readdirSync(resolve(SOURCE_DIR, 'commands'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && file !== 'index.ts')
    .map((file) => resolve(SOURCE_DIR, 'commands', file));
  assert.ok(commands.length > 20);
  const report = [resolve(SOURCE_DIR, 'main.ts'), ...commands].flatMap((entry) =>
    [...heavyAtStartup(entry)].map(([name, files]) => `${name} <- ${files.join(' <- ')}`),
  );
  assert.deepEqual(report, []);
});

test('a client command loads neither the master, nor the database, nor undici, nor the XML parser', () => {
  // What `service list`, `request`… load when they run: the master client (ajv checks the answers;
  // pino comes with the first log record).
  const clientOnly = ['fastify', 'kysely', 'better-sqlite3', 'undici', 'fast-xml-parser'];
  for (const entry of [
    resolve(SOURCE_DIR, '..', 'client', 'master-client.ts'),
    resolve(SOURCE_DIR, 'client-config.ts'),
  ]) {
    const report = [...heavyAtStartup(entry, clientOnly)].map(
      ([name, files]) => `${name} <- ${files.join(' <- ')}`,
    );
    assert.deepEqual(report, []);
  }
});

/** The project's modules `entry` loads (itself included), through value imports. */
function localModules(entry: string): string[] {
  const seen = new Set([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    for (const specifier of valueImports(file)) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return [...seen];
}

test("a client command loads none of the node's or the standalone's modules", () => {
  // The hint naming a nearby standalone only needs where it lives (standalone/location.ts).
  const allowed = new Set([resolve(SOURCE_DIR, '..', 'standalone', 'location.ts')]);
  for (const entry of [
    resolve(SOURCE_DIR, '..', 'client', 'master-client.ts'),
    resolve(SOURCE_DIR, 'client-config.ts'),
  ]) {
    const loaded = localModules(entry).filter(
      (file) => /[/\\]src[/\\](node|standalone|master|buildout)[/\\]/.test(file) && !allowed.has(file),
    );
    assert.deepEqual(loaded, [], entry);
  }
});

test('the import walk sees through type-only imports but not through value imports', () => {
  const entry = resolve(SOURCE_DIR, '..', 'master', 'server.ts');
  assert.ok(heavyAtStartup(entry).has('fastify'));
  assert.ok(heavyAtStartup(entry).has('kysely')); // through the vendor facades (src/lib/kysely.ts)
  for (const facade of VENDOR_FACADES.keys()) assert.ok(existsSync(facade), facade);
});
