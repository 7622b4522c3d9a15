/**
 * `slapos master start` as a real process, administered while it runs by `slapos master user|node`
 * (the real CLI), and a client configured by `slapos configure client` calling it over HTTPS.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccessToken, writeAccessTokenFile } from '../../lib/access-token.ts';
import { parseIni } from '../../lib/ini.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { LINE_TERMINATORS } from '../../testing/hostile-strings.ts';
import { postTls } from '../../testing/master-mode.ts';

const BIN = fileURLToPath(new URL('../../../../bin/slapos.js', import.meta.url));
const HATEOAS = '/slapos.get.v0.hateoas_url';

let work: string;
let dir: string;
let child: ChildProcess;
let exited: Promise<number | null>;
let url: string;
let stderr = '';
const metricsToken = createAccessToken();
const env = (): NodeJS.ProcessEnv => isolatedClientEnv({ HOME: work });

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'slapos-master-cli-'));
  dir = join(work, 'master');
  const cfg = join(work, 'master.cfg');
  await writeFile(
    cfg,
    `[master]\ndir = ${dir}\nport = 1\nhost = 127.0.0.1\nregularisation_stop_after_days = 15\nregularisation_destroy_after_days = 45\n`,
  );
  await writeAccessTokenFile(join(work, 'metrics.token'), metricsToken);
  child = spawn(
    process.execPath,
    [
      BIN,
      'master',
      'start',
      '--cfg',
      cfg,
      '--port',
      '0',
      '--max-connections',
      '64',
      '--metrics-token-file',
      'metrics.token',
    ],
    {
      cwd: work,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`not listening: ${out} ${stderr}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /listening on (https:\/\/\S+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
});

after(async () => {
  child.kill('SIGTERM');
  await exited;
  await rm(work, { recursive: true, force: true });
});

test('master start: HTTPS on the port asked, DIR 0700 with the CA key 0600', async () => {
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'server.key'))).mode & 0o777, 0o600);
});

test('master start: the regularisation policy of [master] is on, applied at start', () => {
  assert.match(
    stderr,
    /"stopAfterDays":15,"destroyAfterDays":45,"intervalMs":3600000,[^\n]*"msg":"regularisation: policy on"/,
  );
});

test('master start: a regularisation policy that destroys before it stops is refused before anything starts', async () => {
  const run = await runSlapos(
    [
      'master',
      'start',
      '--dir',
      join(dir, 'never'),
      '--port',
      '0',
      '--regularisation-stop-after-days',
      '30',
      '--regularisation-destroy-after-days',
      '10',
    ],
    { env: env() },
  );
  assert.equal(run.code, 5, run.stderr);
  assert.match(run.stderr, /must be more than regularisation_stop_after_days/);
  await assert.rejects(stat(join(dir, 'never')), { code: 'ENOENT' });
});

test('master start --max-connections: a bad number is refused before anything starts', async () => {
  for (const value of ['0', '-1', '1.5', 'many', '99999999999999999999']) {
    const run = await runSlapos(
      ['master', 'start', '--dir', join(dir, 'never'), '--port', '0', '--max-connections', value],
      { env: env() },
    );
    assert.notEqual(run.code, 0, run.stderr);
    assert.match(run.stderr, /--max-connections/);
    assert.match(run.stderr, /expected a positive integer/);
  }
  await assert.rejects(stat(join(dir, 'never')), { code: 'ENOENT' });
});

test('master start --metrics-token-file: that token reads /metrics (and only it); a readable file is refused', async () => {
  const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
  const scrape = await postTls(url, '/metrics', undefined, { ca, token: metricsToken, method: 'GET' });
  assert.equal(scrape.status, 200, scrape.text);
  assert.match(scrape.text, /^slapos_master_instances\{requested_state="started",status="started"\} 0$/m);
  const api = await postTls(url, HATEOAS, {}, { ca, token: metricsToken });
  assert.equal(api.status, 401, api.text);

  const open = join(work, 'open.token');
  await writeFile(open, createAccessToken(), { mode: 0o644 });
  const run = await runSlapos(
    ['master', 'start', '--dir', join(dir, 'never'), '--port', '0', '--metrics-token-file', open],
    { env: env() },
  );
  assert.notEqual(run.code, 0, run.stderr);
  assert.match(run.stderr, /can be read or written by other users/);
  await assert.rejects(stat(join(dir, 'never')), { code: 'ENOENT' });
});

test('master user add while the master runs; configure client; client commands work with the token', async () => {
  const added = await runSlapos(['master', 'user', 'add', 'alice', '--dir', dir, '--json'], { env: env() });
  assert.equal(added.code, 0, added.stderr);
  const { user, token } = JSON.parse(added.stdout) as { user: string; token: string };
  assert.equal(user, 'alice');
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);

  const clientCfg = join(work, 'client', 'slapos-client.cfg');
  const configured = await runSlapos(
    [
      'configure',
      'client',
      '--master-url',
      `${url}/`,
      '--token',
      token,
      '--ca-file',
      join(dir, 'ca.crt'),
      '--cfg',
      clientCfg,
    ],
    { env: env() },
  );
  assert.equal(configured.code, 0, configured.stderr);
  assert.equal((await stat(clientCfg)).mode & 0o777, 0o600);
  const ini = parseIni(await readFile(clientCfg, 'utf8'));
  assert.equal(ini.get('slapconsole', 'master_url'), url);
  assert.equal(ini.get('slapconsole', 'master_token'), token);
  assert.equal(ini.get('slapconsole', 'master_ca_file'), join(dir, 'ca.crt'));

  const listed = await runSlapos(['computer', 'list', '--cfg', clientCfg, '--json'], { env: env() });
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout), []);

  const users = await runSlapos(['master', 'user', 'list', '--dir', dir, '--json'], { env: env() });
  assert.equal(users.code, 0, users.stderr);
  assert.deepEqual(
    (JSON.parse(users.stdout) as { user: string; admin: boolean; disabled: boolean }[]).map((entry) => [
      entry.user,
      entry.admin,
      entry.disabled,
    ]),
    [['alice', false, false]],
  );

  // Rotation: a new token, the others revoked; the old one is refused at once, the new one works.
  const rotated = await runSlapos(
    ['master', 'user', 'token', 'alice', '--revoke-others', '--dir', dir, '--json'],
    { env: env() },
  );
  assert.equal(rotated.code, 0, rotated.stderr);
  const fresh = JSON.parse(rotated.stdout) as { user: string; token: string; revoked: number };
  assert.deepEqual([fresh.user, fresh.revoked], ['alice', 1]);
  const caText = await readFile(join(dir, 'ca.crt'), 'utf8');
  let oldTokenStatus = 0;
  const rotationDeadline = Date.now() + 5_000;
  while (oldTokenStatus !== 401 && Date.now() < rotationDeadline)
    oldTokenStatus = (await postTls(url, HATEOAS, {}, { ca: caText, token })).status;
  assert.equal(oldTokenStatus, 401);
  assert.equal((await postTls(url, HATEOAS, {}, { ca: caText, token: fresh.token })).status, 200);

  // No node admits alice yet: her request waits, and `service info` says why.
  const tokenEnv = { ...env(), SLAPOS_MASTER_TOKEN: fresh.token };
  const requested = await runSlapos(
    ['request', 'waiting', 'https://example.com/sr.cfg', '--cfg', clientCfg],
    {
      env: tokenEnv,
    },
  );
  assert.equal(requested.code, 0, requested.stderr);
  const info = await runSlapos(['service', 'info', 'waiting', '--cfg', clientCfg], { env: tokenEnv });
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /waiting for a partition:\n\s+no compute node admits you/);

  // A user certificate works instead of the token.
  const prefix = join(work, 'alice');
  const issued = await runSlapos(['master', 'user', 'certificate', 'alice', '--dir', dir, '--out', prefix], {
    env: env(),
  });
  assert.equal(issued.code, 0, issued.stderr);
  assert.equal((await stat(`${prefix}.key`)).mode & 0o777, 0o600);
  const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
  const tls = {
    ca,
    key: await readFile(`${prefix}.key`, 'utf8'),
    cert: await readFile(`${prefix}.crt`, 'utf8'),
  };
  assert.equal((await postTls(url, HATEOAS, {}, tls)).status, 200);

  // Disabled: the token and the certificate are refused.
  const disabled = await runSlapos(['master', 'user', 'disable', 'alice', '--dir', dir], { env: env() });
  assert.equal(disabled.code, 0, disabled.stderr);
  let refused = 0;
  const deadline = Date.now() + 5_000;
  while (refused !== 401 && Date.now() < deadline) refused = (await postTls(url, HATEOAS, {}, tls)).status;
  assert.equal(refused, 401);
  const after = await runSlapos(['computer', 'list', '--cfg', clientCfg], {
    env: { ...env(), SLAPOS_MASTER_TOKEN: fresh.token },
  });
  assert.notEqual(after.code, 0);
  assert.match(after.stderr, /disabled/);
  for (const secret of [token, fresh.token, tls.key.split('\n')[1] ?? 'x'])
    assert.equal(`${after.stdout}${after.stderr}${stderr}`.includes(secret), false, 'a secret was printed');
});

test('master node list and revoke; bad names and unknown nodes are refused with a message', async () => {
  const empty = await runSlapos(['master', 'node', 'list', '--dir', dir, '--json'], { env: env() });
  assert.equal(empty.code, 0, empty.stderr);
  assert.deepEqual(JSON.parse(empty.stdout), []);
  const unknown = await runSlapos(['master', 'node', 'revoke', 'COMP-404', '--dir', dir], { env: env() });
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /COMP-404 is not registered/);
  for (const name of ['Bob', 'b_ob', '1bob', '', 'bob\n', 'a'.repeat(64)]) {
    const bad = await runSlapos(['master', 'user', 'add', name, '--dir', dir], { env: env() });
    assert.equal(bad.code, 5, `${JSON.stringify(name)}: ${bad.stderr}`);
    assert.match(bad.stderr, /invalid user name/);
  }
  const duplicate = await runSlapos(['master', 'user', 'add', 'alice', '--dir', dir], { env: env() });
  assert.notEqual(duplicate.code, 0);
  assert.match(duplicate.stderr, /already exists/);
  const noDir = await runSlapos(['master', 'user', 'list', '--dir', join(work, 'missing')], { env: env() });
  assert.notEqual(noDir.code, 0);
  assert.match(noDir.stderr, /does not exist/);
});

test('configure client refuses values that would not read back, and never writes a partial file', async () => {
  const out = join(work, 'refused.cfg');
  const token = 'A'.repeat(43);
  for (const caFile of [
    ...LINE_TERMINATORS.map((terminator) => `/tmp/ca${terminator}[slapos]`),
    ' /tmp/ca',
  ]) {
    const run = await runSlapos(
      ['configure', 'client', '--master-url', url, '--token', token, '--ca-file', caFile, '--cfg', out],
      { env: env() },
    );
    assert.notEqual(run.code, 0, JSON.stringify(caFile));
    await assert.rejects(stat(out));
  }
  const badToken = await runSlapos(
    ['configure', 'client', '--master-url', url, '--token', 'short\n[x]', '--cfg', out],
    { env: env() },
  );
  assert.notEqual(badToken.code, 0);
  assert.equal(badToken.stderr.includes('short'), false, 'the token is not echoed');
  // A % in a path reads back as it is.
  const percentCa = join(work, '100%(x)s.crt');
  await writeFile(percentCa, await readFile(join(dir, 'ca.crt')));
  const run = await runSlapos(
    ['configure', 'client', '--master-url', url, '--token', token, '--ca-file', percentCa, '--cfg', out],
    { env: env() },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(parseIni(await readFile(out, 'utf8')).get('slapconsole', 'master_ca_file'), percentCa);
});

test('configure client --master-api: written for the client commands to read; only auto, json or legacy', async () => {
  const out = join(work, 'legacy-client.cfg');
  const token = 'B'.repeat(43);
  const run = await runSlapos(
    [
      'configure',
      'client',
      '--master-url',
      url,
      '--token',
      token,
      '--master-api',
      'legacy',
      '--cfg',
      out,
      '--json',
    ],
    { env: env() },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal((JSON.parse(run.stdout) as { master_api: string }).master_api, 'legacy');
  assert.equal(parseIni(await readFile(out, 'utf8')).get('slapconsole', 'master_api'), 'legacy');
  const refused = await runSlapos(
    [
      'configure',
      'client',
      '--master-url',
      url,
      '--token',
      token,
      '--master-api',
      'soap',
      '--cfg',
      join(work, 'x.cfg'),
    ],
    { env: env() },
  );
  assert.notEqual(refused.code, 0);
  await assert.rejects(stat(join(work, 'x.cfg')));
});
