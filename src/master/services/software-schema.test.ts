import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ServerResponse } from 'node:http';
import { fixedClock } from '../../core/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { startHttpServer, type TestHttpServer } from '../../testing/http-server.ts';
import { openTestStore, type TestStore } from '../../testing/test-database.ts';
import { proxyModeAuthorizer, type Authorizer } from './caller.ts';
import { createServiceContext, type SchemaFetchOptions } from './context.ts';
import { createMasterServices } from './index.ts';
import { SCHEMA_LIMITS } from './software-schema.ts';

const LOCAL = { caller: { kind: 'local' } as const };
const USER = { caller: { kind: 'user', userId: 'u1', admin: false } as const };
const allowAll: Authorizer = { authorize: () => Promise.resolve() };

let store: TestStore;
let directory: string;
before(async () => {
  store = await openTestStore();
  directory = await mkdtemp(join(tmpdir(), 'software-schema-'));
});
after(async () => {
  await store.close();
  await rm(directory, { recursive: true, force: true });
});

function services(
  mode: 'proxy' | 'master' = 'proxy',
  schemaFetch: Partial<SchemaFetchOptions> = {},
  clock = fixedClock(1_700_000_000),
) {
  return createMasterServices(
    createServiceContext({
      store: store.store,
      clock,
      logger: silentLogger(),
      mode,
      authorizer: mode === 'proxy' ? proxyModeAuthorizer : allowAll,
      schemaFetch,
    }),
  );
}

const SOFTWARE_JSON = {
  name: 'Hello',
  description: 'A hello service',
  serialisation: 'xml',
  'software-type': {
    'default-shared': {
      title: 'Shared',
      'software-type': 'default',
      shared: true,
      request: 'shared-input.json',
      index: 1,
    },
    default: { title: 'Default', description: 'One server', request: 'schemas/input.json', index: 0 },
    cluster: { title: 'Cluster', serialisation: 'json-in-xml', index: 2 },
  },
};
const INPUT = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  type: 'object',
  properties: { name: { $ref: '../common.json#/definitions/name' }, size: { $ref: '#/definitions/size' } },
  definitions: { size: { type: 'integer' } },
};
const COMMON = { definitions: { name: { type: 'string', default: 'World' } } };

async function writeRelease(dir: string, files: Record<string, unknown>): Promise<string> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return join(dir, 'software.cfg');
}

test('a local release (proxy mode): software types in index order, the input schema and its $ref documents', async () => {
  const release = await writeRelease(join(directory, 'local'), {
    'software.cfg.json': SOFTWARE_JSON,
    'schemas/input.json': INPUT,
    'common.json': COMMON,
  });
  const schema = await services().readSoftwareSchema({ ...LOCAL, softwareRelease: release });
  assert.ok(schema);
  assert.equal(schema.name, 'Hello');
  assert.deepEqual(
    schema.softwareTypes.map((entry) => [entry.key, entry.softwareType, entry.shared, entry.serialisation]),
    [
      ['default', 'default', false, 'xml'],
      ['default-shared', 'default', true, 'xml'],
      ['cluster', 'cluster', false, 'json-in-xml'],
    ],
  );
  const input = schema.input;
  assert.ok(input);
  const inputUrl = pathToFileURL(join(directory, 'local/schemas/input.json')).href;
  const commonUrl = pathToFileURL(join(directory, 'local/common.json')).href;
  assert.equal(input.url, inputUrl);
  assert.equal(input.schema.$id, inputUrl);
  assert.equal(input.schema.$schema, undefined, 'draft-04 is read as draft-07');
  assert.deepEqual([...input.documents.keys()], [inputUrl, commonUrl]);
  assert.deepEqual(input.documents.get(commonUrl)?.definitions, COMMON.definitions);

  await rejectsWithSlapError(
    services().readSoftwareSchema({ ...LOCAL, softwareRelease: release, softwareType: 'default-shared' }),
    'SLAP_ERR_SCHEMA_UNREADABLE',
    /shared-input\.json, named by the software release's schema, does not exist/,
  );
});

test('no software.cfg.json: undefined; a type without a request schema: no input', async () => {
  const bare = await writeRelease(join(directory, 'bare'), { 'software.cfg': '[buildout]\n' });
  assert.equal(await services().readSoftwareSchema({ ...LOCAL, softwareRelease: bare }), undefined);
  const release = await writeRelease(join(directory, 'types'), {
    'software.cfg.json': SOFTWARE_JSON,
    'schemas/input.json': INPUT,
    'common.json': COMMON,
  });
  // The shared entry of type default (whose shared-input.json does not exist).
  await rejectsWithSlapError(
    services().readSoftwareSchema({
      ...LOCAL,
      softwareRelease: release,
      softwareType: 'default',
      shared: true,
    }),
    'SLAP_ERR_SCHEMA_UNREADABLE',
    /shared-input\.json/,
  );
  const main = await services().readSoftwareSchema({
    ...LOCAL,
    softwareRelease: release,
    softwareType: 'default',
    shared: false,
  });
  assert.equal(main?.input?.entry.key, 'default');
  const cluster = await services().readSoftwareSchema({
    ...LOCAL,
    softwareRelease: release,
    softwareType: 'cluster',
  });
  assert.equal(cluster?.input, undefined);
  const unknown = await services().readSoftwareSchema({
    ...LOCAL,
    softwareRelease: release,
    softwareType: 'nope',
  });
  assert.equal(unknown?.input, undefined);
  assert.equal(unknown?.softwareTypes.length, 3);
});

test('master mode never reads a local file, by path or file: URL', async () => {
  const release = await writeRelease(join(directory, 'master'), { 'software.cfg.json': SOFTWARE_JSON });
  for (const softwareRelease of [release, pathToFileURL(release).href]) {
    await rejectsWithSlapError(
      services('master').readSoftwareSchema({ ...USER, softwareRelease }),
      'SLAP_ERR_SCHEMA_LOCATION_REFUSED',
      /local files/,
    );
  }
  await rejectsWithSlapError(
    services('proxy').readSoftwareSchema({ ...LOCAL, softwareRelease: 'ftp://example.invalid/software.cfg' }),
    'SLAP_ERR_SCHEMA_LOCATION_REFUSED',
  );
  await rejectsWithSlapError(
    services('proxy').readSoftwareSchema({ ...LOCAL, softwareRelease: 'relative/software.cfg' }),
    'SLAP_ERR_SCHEMA_LOCATION_REFUSED',
  );
});

test('the caller must be allowed to request', async () => {
  await rejectsWithSlapError(
    services('proxy').readSoftwareSchema({
      caller: { kind: 'anonymous' },
      softwareRelease: '/nowhere/software.cfg',
    }),
    'SLAP_ERR_UNAUTHENTICATED',
  );
});

/** Serves `files` by path; `/slow…` never answers; `/redirect-file` redirects to a file: URL. */
async function serve(files: Record<string, unknown>): Promise<TestHttpServer> {
  return startHttpServer((request, response: ServerResponse) => {
    const path = request.url ?? '';
    if (path.startsWith('/slow')) return; // never answers
    if (path === '/redirect-file/software.cfg.json') {
      response.writeHead(302, { location: 'file:///etc/passwd' });
      return response.end();
    }
    if (path === '/redirect/software.cfg.json') {
      response.writeHead(301, { location: '/release/software.cfg.json' });
      return response.end();
    }
    if (path === '/huge/software.cfg.json') {
      // No Content-Length: the cap applies while the body streams.
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"x": "');
      response.write('a'.repeat(SCHEMA_LIMITS.maxBytes));
      return response.end('"}');
    }
    const content = files[path];
    if (content === undefined) {
      response.writeHead(404);
      return response.end();
    }
    const body = typeof content === 'string' ? content : JSON.stringify(content);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(body);
  });
}

test('http on loopback: the schema and its $refs, a loop of $refs ends, 404 is "no schema"', async () => {
  const server = await serve({
    '/release/software.cfg.json': SOFTWARE_JSON,
    '/release/schemas/input.json': {
      ...INPUT,
      properties: { ...INPUT.properties, loop: { $ref: 'a.json' } },
    },
    '/release/common.json': COMMON,
    '/release/schemas/a.json': { properties: { b: { $ref: 'b.json' } } },
    '/release/schemas/b.json': { properties: { a: { $ref: 'a.json#' }, self: { $ref: 'input.json' } } },
  });
  try {
    const schema = await services().readSoftwareSchema({
      ...LOCAL,
      softwareRelease: `${server.url}/release/software.cfg`,
    });
    assert.deepEqual(
      [...(schema?.input?.documents.keys() ?? [])].sort(),
      ['common.json', 'schemas/a.json', 'schemas/b.json', 'schemas/input.json'].map(
        (p) => `${server.url}/release/${p}`,
      ),
    );
    const reader = services();
    const first = await reader.readSoftwareSchema({
      ...LOCAL,
      softwareRelease: `${server.url}/release/software.cfg`,
    });
    const second = await reader.readSoftwareSchema({
      ...LOCAL,
      softwareRelease: `${server.url}/release/software.cfg`,
    });
    assert.ok(first?.input && second?.input);
    assert.equal(second.input.schema, first.input.schema, 'the same objects while cached');
    assert.deepEqual([...second.input.documents.values()], [...first.input.documents.values()]);
    const redirected = await services().readSoftwareSchema({
      ...LOCAL,
      softwareRelease: `${server.url}/redirect/software.cfg`,
    });
    assert.equal(redirected?.name, 'Hello');
    assert.equal(
      await services().readSoftwareSchema({ ...LOCAL, softwareRelease: `${server.url}/none/software.cfg` }),
      undefined,
    );
  } finally {
    await server.close();
  }
});

test('http: too big, too slow, bad JSON, not an object, a redirect to file:, a missing $ref', async () => {
  const server = await serve({
    '/bad/software.cfg.json': '{"software-type": ',
    '/array/software.cfg.json': '[1]',
    '/missing/software.cfg.json': { 'software-type': { default: { request: 'input.json' } } },
    '/missing/input.json': { $ref: 'gone.json' },
  });
  const release = (path: string) => `${server.url}/${path}/software.cfg`;
  try {
    // A deadline short enough for a server that never answers; the other cases have the default one.
    const fast = services('proxy', { timeoutMs: 300 });
    const reader = services('proxy');
    await rejectsWithSlapError(
      reader.readSoftwareSchema({ ...LOCAL, softwareRelease: release('huge') }),
      'SLAP_ERR_SCHEMA_UNREADABLE',
      /larger than 1048576 bytes/,
    );
    await rejectsWithSlapError(
      fast.readSoftwareSchema({ ...LOCAL, softwareRelease: release('slow') }),
      'SLAP_ERR_SCHEMA_UNREADABLE',
      /did not answer in time/,
    );
    await rejectsWithSlapError(
      reader.readSoftwareSchema({ ...LOCAL, softwareRelease: release('bad') }),
      'SLAP_ERR_SCHEMA_UNREADABLE',
      /is not valid JSON/,
    );
    await rejectsWithSlapError(
      reader.readSoftwareSchema({ ...LOCAL, softwareRelease: release('array') }),
      'SLAP_ERR_SCHEMA_UNREADABLE',
      /not a JSON object/,
    );
    await rejectsWithSlapError(
      reader.readSoftwareSchema({ ...LOCAL, softwareRelease: release('redirect-file') }),
      'SLAP_ERR_SCHEMA_LOCATION_REFUSED',
      /only http and https/,
    );
    await rejectsWithSlapError(
      reader.readSoftwareSchema({ ...LOCAL, softwareRelease: release('missing') }),
      'SLAP_ERR_SCHEMA_UNREADABLE',
      /gone\.json, named by the software release's schema, does not exist/,
    );
  } finally {
    await server.close();
  }
});

test('a chain of more than 20 documents is refused', async () => {
  const files: Record<string, unknown> = {
    '/chain/software.cfg.json': { 'software-type': { default: { request: 'd0.json' } } },
  };
  for (let index = 0; index < 30; index++) files[`/chain/d${index}.json`] = { $ref: `d${index + 1}.json` };
  const server = await serve(files);
  try {
    await rejectsWithSlapError(
      services().readSoftwareSchema({ ...LOCAL, softwareRelease: `${server.url}/chain/software.cfg` }),
      'SLAP_ERR_SCHEMA_UNREADABLE',
      /more than 20 documents|deeper than 8 levels/,
    );
  } finally {
    await server.close();
  }
});

test('master mode refuses loopback addresses unless configured to read private addresses', async () => {
  const server = await serve({ '/release/software.cfg.json': { name: 'Hello' } });
  const softwareRelease = `${server.url}/release/software.cfg`;
  try {
    await rejectsWithSlapError(
      services('master').readSoftwareSchema({ ...USER, softwareRelease }),
      'SLAP_ERR_SCHEMA_LOCATION_REFUSED',
      /not a public address/,
    );
    await rejectsWithSlapError(
      services('master').readSoftwareSchema({
        ...USER,
        softwareRelease: softwareRelease.replace('127.0.0.1', 'localhost'),
      }),
      'SLAP_ERR_SCHEMA_LOCATION_REFUSED',
      /does not resolve to a public address/,
    );
    assert.equal(server.requests.length, 0, 'nothing was sent');
    const schema = await services('master', { privateAddresses: true }).readSoftwareSchema({
      ...USER,
      softwareRelease,
    });
    assert.equal(schema?.name, 'Hello');
  } finally {
    await server.close();
  }
});

test('documents are cached 60 s per URL', async () => {
  const server = await serve({ '/release/software.cfg.json': { name: 'cached' } });
  const clock = fixedClock(1_700_000_000);
  const reader = services('proxy', {}, clock);
  const softwareRelease = `${server.url}/release/software.cfg`;
  try {
    await reader.readSoftwareSchema({ ...LOCAL, softwareRelease });
    clock.advance(59);
    await reader.readSoftwareSchema({ ...LOCAL, softwareRelease });
    assert.equal(server.requests.length, 1);
    clock.advance(2);
    await reader.readSoftwareSchema({ ...LOCAL, softwareRelease });
    assert.equal(server.requests.length, 2);
  } finally {
    await server.close();
  }
});

test('examples/hello publishes its parameters: type default, a name of at most 100 characters, default World', async () => {
  const softwareRelease = fileURLToPath(new URL('../../../../examples/hello/software.cfg', import.meta.url));
  const schema = await services().readSoftwareSchema({ ...LOCAL, softwareRelease });
  assert.deepEqual(
    schema?.softwareTypes.map((entry) => [entry.key, entry.shared, entry.serialisation]),
    [['default', false, 'xml']],
  );
  const name = (schema?.input?.schema.properties as Record<string, Record<string, unknown>> | undefined)
    ?.name;
  assert.deepEqual([name?.type, name?.default, name?.maxLength], ['string', 'World', 100]);
});
