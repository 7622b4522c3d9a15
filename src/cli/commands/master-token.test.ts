/** Client commands against a master that requires its access token (as a standalone's does). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccessToken } from '../../lib/access-token.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { startMasterWithNode, type MasterWithNode } from '../../testing/master-with-node.ts';

const SR = 'https://example.com/software/hello/software.cfg';
const env = isolatedClientEnv();
const token = createAccessToken();
let master: MasterWithNode;
let dir: string;
let cfg: string;

before(async () => {
  master = await startMasterWithNode({ computerGuid: 'COMP-TOKEN', accessToken: token });
  dir = mkdtempSync(join(tmpdir(), 'slapos-master-token-'));
  cfg = join(dir, 'slapos.cfg');
  writeFileSync(cfg, `[slapos]\nmaster_url = ${master.url}/\nmaster_token = ${token}\n`, { mode: 0o600 });
});
after(async () => {
  await master.close();
  rmSync(dir, { recursive: true, force: true });
});

test('--cfg holding master_token: the command is authenticated', async () => {
  const run = await runSlapos(['supply', SR, 'COMP-TOKEN', '--cfg', cfg], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await master.client.listSoftwareInstallations('COMP-TOKEN'), [
    { software_release_uri: SR, state: 'available' },
  ]);
});

test('--master-url alone: refused, and the message says how to pass the token', async () => {
  const other = `${SR}?refused`;
  const run = await runSlapos(['supply', other, 'COMP-TOKEN', '--master-url', master.url], { env });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /requires an access token/);
  assert.match(run.stderr, /--cfg/);
  assert.ok(!run.stderr.includes(token));
  const json = await runSlapos(['service', 'list', '--master-url', master.url, '--json'], { env });
  assert.equal(json.code, 1);
  assert.ok(
    !(await master.client.listSoftwareInstallations('COMP-TOKEN')).some(
      (item) => item.software_release_uri === other,
    ),
  );
});

test('--master-url with --cfg keeps the token of the file; $SLAPOS_MASTER_TOKEN gives one too', async () => {
  const withCfg = await runSlapos(['service', 'list', '--master-url', master.url, '--cfg', cfg, '--json'], {
    env,
  });
  assert.equal(withCfg.code, 0, withCfg.stderr);
  const fromEnv = await runSlapos(['service', 'list', '--master-url', master.url, '--json'], {
    env: { ...env, SLAPOS_MASTER_TOKEN: token },
  });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  const wrong = await runSlapos(['service', 'list', '--master-url', master.url, '--json'], {
    env: { ...env, SLAPOS_MASTER_TOKEN: createAccessToken() },
  });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /not valid/);
});
