/** Kysely's one-file bundle stands for the package only when it was made from the installed version. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { installedKyselyVersion, usableKyselyBundle } from './kysely-bundle.ts';
import { KYSELY_SOURCE, sql } from './kysely.ts';

test('the bundle is used only if it exists and its description names the installed version', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'kysely-bundle-'));
  try {
    const vendor = pathToFileURL(`${directory}/`);
    assert.equal(usableKyselyBundle(vendor, '1.2.3'), undefined); // nothing there
    await writeFile(join(directory, 'kysely.js'), 'export {};');
    assert.equal(usableKyselyBundle(vendor, '1.2.3'), undefined); // no description
    await writeFile(join(directory, 'kysely.json'), '{"version":');
    assert.equal(usableKyselyBundle(vendor, '1.2.3'), undefined); // unreadable description
    await writeFile(join(directory, 'kysely.json'), JSON.stringify({ version: '1.2.4' }));
    assert.equal(usableKyselyBundle(vendor, '1.2.3'), undefined); // another version
    await writeFile(join(directory, 'kysely.json'), JSON.stringify({ version: '1.2.3' }));
    assert.equal(usableKyselyBundle(vendor, '1.2.3')?.href, new URL('kysely.js', vendor).href);
    assert.equal(usableKyselyBundle(vendor, undefined), undefined); // installed version unknown
    await rm(join(directory, 'kysely.js'));
    assert.equal(usableKyselyBundle(vendor, '1.2.3'), undefined); // described but gone
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('the installed version is read from the package the specifier resolves to', () => {
  assert.match(installedKyselyVersion(import.meta.resolve('kysely')) ?? '', /^\d+\.\d+\.\d+/);
  assert.equal(installedKyselyVersion(import.meta.url), undefined); // not kysely's entry module
});

test('compiled, the code loads the bundle, which exports what the package exports', async () => {
  if (import.meta.url.endsWith('.ts')) {
    // From source (tsx) there is no dist/vendor/ beside the module: the package.
    assert.equal(KYSELY_SOURCE, 'package');
    return;
  }
  assert.equal(KYSELY_SOURCE, 'bundle', 'the build (npm run build, scripts/test.sh) bundles Kysely');
  const bundle = (await import(new URL('../../vendor/kysely.js', import.meta.url).href)) as Record<
    string,
    unknown
  >;
  const packaged = (await import('kysely')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(bundle).sort(), Object.keys(packaged).sort());
  assert.equal(sql, bundle.sql);
});
