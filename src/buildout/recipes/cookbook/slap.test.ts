import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MasterClient } from '../../../client/master-client.ts';
import { createMasterClient, isMasterClient, probedMasterApi } from '../../../client/master-api.ts';
import { silentLogger } from '../../../lib/logger.ts';
import type { RecipeContext } from '../../recipe.ts';
import type { Options } from '../../resolver.ts';
import { actsAsInstance, withMaster, type SlapConnection } from './slap.ts';

const URL = 'https://127.0.0.1:9';

function options(values: Record<string, string>): Options {
  return { get: (key: string) => values[key], name: 'slap-connection' } as unknown as Options;
}

/** The little of a recipe context withMaster uses: the node's client, [slap-connection], errors. */
function context(master: MasterClient, slapConnection: Record<string, string>): RecipeContext {
  return {
    slap: { master },
    logger: silentLogger(),
    section: (name: string) =>
      name === 'slap-connection' ? Promise.resolve(options(slapConnection)) : Promise.reject(new Error(name)),
    error: (message: string) => new Error(message),
  } as unknown as RecipeContext;
}

test("with the partition's key and certificate the recipes act as the instance, not through the node's client", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'slapos-slap-'));
  const node = createMasterClient({ api: 'json', masterUrl: URL });
  try {
    for (const file of ['p.key', 'p.crt', 'ca.crt']) await writeFile(join(dir, file), `not used: ${file}`);
    const connection = (extra: Partial<SlapConnection> = {}): SlapConnection => ({
      serverUrl: URL,
      computerId: 'COMP-1',
      partitionId: 'slappart0',
      keyFile: undefined,
      certFile: undefined,
      ...extra,
    });
    const ctx = context(node, { 'master-ca-file': join(dir, 'ca.crt') });
    const withoutCertificate = await withMaster(ctx, connection(), (client) => Promise.resolve(client));
    assert.equal(withoutCertificate, node, "no instance certificate (proxy mode): the node's client");

    const asInstance = connection({ keyFile: join(dir, 'p.key'), certFile: join(dir, 'p.crt') });
    assert.ok(actsAsInstance(asInstance));
    const own = await withMaster(ctx, asInstance, (client) => Promise.resolve(client));
    assert.notEqual(own, node, "the instance's own client");
    assert.ok(isMasterClient(own));

    assert.ok(
      !actsAsInstance({ ...asInstance, serverUrl: 'http://127.0.0.1:9' }),
      'no certificate over plain http',
    );
    await assert.rejects(
      withMaster(
        context(node, {}),
        connection({ keyFile: join(dir, 'missing.key'), certFile: join(dir, 'p.crt') }),
        () => Promise.resolve(undefined),
      ),
      /cannot read the partition's key/,
    );
  } finally {
    await node.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("[slap-connection] master-api: the API of the client the recipes open (the node's master_api)", async () => {
  const other = createMasterClient({ api: 'json', masterUrl: 'http://127.0.0.1:8' });
  const connection: SlapConnection = {
    serverUrl: 'http://127.0.0.1:9',
    computerId: 'COMP-1',
    partitionId: 'slappart0',
    keyFile: undefined,
    certFile: undefined,
  };
  try {
    for (const [setting, api] of [
      [{ 'master-api': 'legacy' }, 'legacy'],
      [{ 'master-api': 'json' }, 'json'],
      [{}, undefined],
    ] as const) {
      const opened = await withMaster(context(other, setting), connection, (client) =>
        Promise.resolve(probedMasterApi(client)),
      );
      assert.equal(opened, api, JSON.stringify(setting));
    }
    await assert.rejects(
      withMaster(context(other, { 'master-api': 'soap' }), connection, () => Promise.resolve()),
      /master-api must be auto, json or legacy/,
    );
  } finally {
    await other.close();
  }
});
