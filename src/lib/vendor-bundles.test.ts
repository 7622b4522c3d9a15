/** A vendor bundle stands for its package only when it was made from the installed version. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FASTIFY_SOURCE, fastify, LogController } from './fastify.ts';
import { KYSELY_SOURCE, sql } from './kysely.ts';
import { installedVersion, usableBundle, VENDOR_BUNDLES, VENDOR_DIRECTORY } from './vendor-bundles.ts';

test('a bundle is used only if it exists and its description names the installed version', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'vendor-bundles-'));
  const bundle = VENDOR_BUNDLES.kysely;
  try {
    const vendor = pathToFileURL(`${directory}/`);
    assert.equal(usableBundle(vendor, bundle, '1.2.3'), undefined); // nothing there
    await writeFile(join(directory, bundle.file), 'export {};');
    assert.equal(usableBundle(vendor, bundle, '1.2.3'), undefined); // no description
    await writeFile(join(directory, 'kysely.json'), '{"version":');
    assert.equal(usableBundle(vendor, bundle, '1.2.3'), undefined); // unreadable description
    await writeFile(join(directory, 'kysely.json'), JSON.stringify({ version: '1.2.4' }));
    assert.equal(usableBundle(vendor, bundle, '1.2.3'), undefined); // another version
    await writeFile(join(directory, 'kysely.json'), JSON.stringify({ version: '1.2.3' }));
    assert.equal(usableBundle(vendor, bundle, '1.2.3')?.href, new URL(bundle.file, vendor).href);
    assert.equal(usableBundle(vendor, VENDOR_BUNDLES.fastify, '1.2.3'), undefined); // another package's
    assert.equal(usableBundle(vendor, bundle, undefined), undefined); // installed version unknown
    await rm(join(directory, bundle.file));
    assert.equal(usableBundle(vendor, bundle, '1.2.3'), undefined); // described but gone
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test("the installed version is read from the nearest package.json of the package's name", () => {
  for (const name of ['kysely', 'fastify'])
    assert.match(installedVersion(name, import.meta.resolve(name)) ?? '', /^\d+\.\d+\.\d+/, name);
  assert.equal(installedVersion('kysely', import.meta.resolve('fastify')), undefined);
});

test('compiled, the code loads the bundles, which export what the packages export', async () => {
  if (import.meta.url.endsWith('.ts')) {
    // From source (tsx) there is no dist/vendor/ beside the modules: the packages.
    assert.deepEqual([KYSELY_SOURCE, FASTIFY_SOURCE], ['package', 'package']);
    return;
  }
  // The build (npm run build, scripts/test.sh) makes them.
  assert.deepEqual([KYSELY_SOURCE, FASTIFY_SOURCE], ['bundle', 'bundle']);
  const kyselyBundle = (await import(new URL(VENDOR_BUNDLES.kysely.file, VENDOR_DIRECTORY).href)) as Record<
    string,
    unknown
  >;
  const kyselyPackage = (await import('kysely')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(kyselyBundle).sort(), Object.keys(kyselyPackage).sort());
  assert.equal(sql, kyselyBundle.sql);
  const fastifyBundle = (
    (await import(new URL(VENDOR_BUNDLES.fastify.file, VENDOR_DIRECTORY).href)) as { default: object }
  ).default;
  const fastifyPackage = ((await import('fastify')) as { default: object }).default;
  assert.deepEqual(Object.keys(fastifyBundle).sort(), Object.keys(fastifyPackage).sort());
  assert.equal(fastify, fastifyBundle);
  assert.equal(LogController, (fastifyBundle as { LogController: unknown }).LogController);
  // The bundle works: a request through its router and hooks.
  const app = fastify();
  app.post('/x', (request, reply) => reply.send({ echo: request.body }));
  const answer = await app.inject({ method: 'POST', url: '/x', payload: { a: 1 } });
  assert.equal(answer.statusCode, 200);
  assert.deepEqual(answer.json(), { echo: { a: 1 } });
  await app.close();
});
