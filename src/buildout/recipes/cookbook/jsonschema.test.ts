import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadProfile } from '../../engine.ts';
import { fromJs, toJs } from '../../py-value.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { instanceFixture, type InstanceFixture } from '../../../testing/slapgrid.ts';

const SOFTWARE_SCHEMA = {
  name: 'Test',
  serialisation: 'json-in-xml',
  'software-type': {
    default: {
      title: 'Default',
      'software-type': 'default',
      request: 'instance-input-schema.json',
      index: 0,
    },
    'default-shared': {
      title: 'Shared',
      'software-type': 'default',
      shared: true,
      request: 'shared-input-schema.json',
      index: 1,
    },
  },
};

const INPUT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-04/schema#',
  type: 'object',
  properties: {
    name: { type: 'string', default: 'World' },
    port: { type: 'integer', default: 8080 },
    tls: { $ref: 'definitions.json#/tls' },
  },
  additionalProperties: false,
};

async function writeSchemas(fixture: InstanceFixture): Promise<void> {
  await fixture.dir.write({
    'software.cfg.json': JSON.stringify(SOFTWARE_SCHEMA),
    'instance-input-schema.json': JSON.stringify(INPUT_SCHEMA),
    'definitions.json': JSON.stringify({
      tls: { type: 'object', properties: { enabled: { type: 'boolean', default: false } } },
    }),
    'shared-input-schema.json': JSON.stringify({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      required: ['url'],
      properties: { url: { type: 'string' }, weight: { type: 'integer', default: 1 } },
    }),
  });
}

const section = (extra: string): string => `[buildout]
parts =
[slap-configuration]
recipe = slapos.cookbook:slapconfiguration.jsonschema
computer = \${slap-connection:computer-id}
partition = \${slap-connection:partition-id}
url = \${slap-connection:server-url}
jsonschema = \${buildout:directory}/software.cfg.json
${extra}
`;

test('slapconfiguration.jsonschema validates, fills defaults, unstringifies, splits shared instances', async () => {
  const fixture = await instanceFixture({
    parameters: { _: JSON.stringify({ port: '9090', tls: {} }) },
  });
  try {
    const { env, dir } = fixture;
    await writeSchemas(fixture);
    for (const [title, parameters] of [
      ['good-shared', { url: 'http://a' }],
      ['bad-shared', { weight: 'heavy' }],
    ] as const) {
      await env.client.requestInstance({
        title,
        softwareReleaseUri: fixture.softwareReleaseUrl,
        softwareType: 'default',
        shared: true,
        parameters: { _: JSON.stringify(parameters) },
      });
    }
    await writeFile(
      join(dir.path, 'buildout.cfg'),
      section('set-default = all\nunstringify = all') + fixture.tail,
    );
    const options = await (
      await loadProfile({ configFile: join(dir.path, 'buildout.cfg') })
    ).section('slap-configuration');
    assert.deepEqual(
      options.getValue('configuration'),
      fromJs({ port: 9090, tls: { enabled: false }, name: 'World' }),
    );
    assert.equal(options.getValue('configuration.port'), 9090n);
    assert.equal(options.get('configuration.name'), 'World');
    assert.equal(options.has('slave-instance-list'), false);
    assert.deepEqual(
      options.getValue('valid-shared-instance-list'),
      fromJs([{ reference: 'good-shared______1', parameters: { url: 'http://a', weight: 1 } }]),
    );
    const invalid = toJs(options.getValue('invalid-shared-instance-list') ?? null) as {
      reference: string;
      errors: string[];
    }[];
    assert.equal(invalid.length, 1);
    assert.equal(invalid[0]?.reference, 'bad-shared______1');
    assert.match(invalid[0]?.errors.join('\n') ?? '', /\$: must have required property 'url'/);
    assert.match(invalid[0]?.errors.join('\n') ?? '', /\$\.weight: must be integer/);

    // Without unstringify, the string is refused; bad main parameters fail the run.
    await writeFile(join(dir.path, 'buildout.cfg'), section('') + fixture.tail);
    await rejectsWithSlapError(
      (await loadProfile({ configFile: join(dir.path, 'buildout.cfg') })).section('slap-configuration'),
      'SLAP_ERR_PARAMETERS_INVALID',
      /Invalid parameters:\n {2}\$\.port: must be integer/,
    );
    // validate-parameters = none: no schema needed, parameters as they are (unwrapped).
    await writeFile(join(dir.path, 'buildout.cfg'), section('validate-parameters = none') + fixture.tail);
    const plain = await (
      await loadProfile({ configFile: join(dir.path, 'buildout.cfg') })
    ).section('slap-configuration');
    assert.deepEqual(plain.getValue('configuration'), fromJs({ port: '9090', tls: {} }));
    assert.equal((plain.getValue('slave-instance-list') as unknown[]).length, 2);
  } finally {
    await fixture.close();
  }
});

test('slapconfiguration.jsonschema: bad options and schemas are named', async () => {
  const fixture = await instanceFixture({ softwareType: 'nosuchtype' });
  try {
    const { dir } = fixture;
    await writeSchemas(fixture);
    const load = async (extra: string): Promise<unknown> => {
      await writeFile(join(dir.path, 'buildout.cfg'), section(extra) + fixture.tail);
      return (await loadProfile({ configFile: join(dir.path, 'buildout.cfg') })).section(
        'slap-configuration',
      );
    };
    await rejectsWithSlapError(
      load('set-default = sometimes'),
      'SLAP_ERR_PROFILE',
      /set-default: "sometimes" is not a valid value/,
    );
    await rejectsWithSlapError(
      load(''),
      'SLAP_ERR_PROFILE',
      /software-type "nosuchtype" seems to have no JSON schema entry/,
    );
    await dir.write({ 'software.cfg.json': '{"software-type": {}}' });
    await rejectsWithSlapError(load(''), 'SLAP_ERR_PROFILE', /invalid or undefined serialisation null/);
    await dir.write({ 'software.cfg.json': 'not json' });
    await rejectsWithSlapError(
      load(''),
      'SLAP_ERR_PROFILE',
      /cannot read the JSON schema .*software\.cfg\.json/,
    );
  } finally {
    await fixture.close();
  }
});

/** A loopback proxy to `target` that records the paths and bodies of the requests it forwards. */
async function recordingProxy(
  target: string,
): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push(`${req.url ?? ''} ${body.toString('utf8')}`);
      const forward = httpRequest(
        new URL(req.url ?? '/', target),
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('slapconfiguration.jsonschema: shared errors reach the master only with report-error = shared|all', async () => {
  const fixture = await instanceFixture({ parameters: { _: JSON.stringify({ port: 1 }) } });
  const proxy = await recordingProxy(fixture.env.url);
  try {
    const { env, dir } = fixture;
    await writeSchemas(fixture);
    const bad = await env.client.requestInstance({
      title: 'bad-shared',
      softwareReleaseUri: fixture.softwareReleaseUrl,
      softwareType: 'default',
      shared: true,
      parameters: { _: JSON.stringify({ weight: 'heavy' }) },
    });
    const reports = (): string[] => proxy.seen.filter((line) => line.includes('software_instance_error'));
    const resolveWith = async (extra: string): Promise<void> => {
      const tail = fixture.tail.replaceAll(env.url, proxy.url);
      assert.notEqual(tail, fixture.tail, 'the partition talks to the master through the proxy');
      await writeFile(join(dir.path, 'buildout.cfg'), section(extra) + tail);
      await (await loadProfile({ configFile: join(dir.path, 'buildout.cfg') })).section('slap-configuration');
    };
    await resolveWith('');
    assert.ok(proxy.seen.length > 0);
    assert.deepEqual(reports(), [], 'by default, as the original, the recipe reports nothing itself');
    await resolveWith('report-error = shared');
    assert.equal(reports().length, 1);
    assert.ok(reports()[0]?.includes(bad.instance_guid));
    assert.match(reports()[0] ?? '', /Invalid parameters:\\n {2}\$: must have required property 'url'/);
  } finally {
    await proxy.close();
    await fixture.close();
  }
});
