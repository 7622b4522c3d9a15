/**
 * The standalone's pieces: its directory and configuration, pid files and background processes, a
 * failed start, and the CLI's refusals of bad input (the whole lifecycle runs in
 * e2e/standalone.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { createPrivateKey, createSign, createVerify, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { runSlapos } from '../testing/cli.ts';
import { rejectsWithSlapError, throwsSlapError } from '../testing/slap-error-assert.ts';
import { shortTempDir } from '../testing/standalone.ts';
import { pidAlive, waitFor } from '../testing/supervisor.ts';
import { ensureCacheSignature, ensureStandaloneConfig, readStandaloneConfig } from './config-file.ts';
import { checkSocketPath, resolveStandaloneDir, standaloneLayout } from './layout.ts';
import { standaloneStatus, startStandalone, stopStandalone, type StandaloneStep } from './standalone.ts';
import { describeStep } from '../cli/commands/standalone-start.ts';
import { livePid, spawnDetached, terminate, waitUntilReady, writePidFile } from './processes.ts';
import { loadNodeConfig } from '../node/config.ts';
import { parseIni } from '../lib/ini.ts';
import { slaposBinPath } from '../lib/package-root.ts';
import { postJson } from '../testing/master.ts';

test('the directory: --dir, else $SLAPOS_STANDALONE_DIR, else ./.slapos; a too deep one is refused', () => {
  assert.equal(resolveStandaloneDir('x', { env: {}, cwd: '/w' }), '/w/x');
  assert.equal(resolveStandaloneDir(undefined, { env: { SLAPOS_STANDALONE_DIR: '/s' }, cwd: '/w' }), '/s');
  assert.equal(resolveStandaloneDir(undefined, { env: {}, cwd: '/w' }), '/w/.slapos');
  const layout = standaloneLayout('/w/.slapos');
  assert.equal(layout.supervisor.socket, '/w/.slapos/inst/sv.sock');
  assert.equal(layout.config, '/w/.slapos/etc/slapos.cfg');
  checkSocketPath(layout);
  throwsSlapError(
    () => checkSocketPath(standaloneLayout(`/${'d'.repeat(100)}`)),
    'SLAP_ERR_CONFIG',
    /too deep: its supervisor socket .* is 1?\d+ bytes|too deep/,
  );
});

test('slapos.cfg: written once with a free port, partitions can only grow, hand edits are kept', async () => {
  const dir = await shortTempDir('sa-cfg-');
  try {
    const layout = standaloneLayout(dir);
    assert.equal(await readStandaloneConfig(layout), undefined);
    const first = await ensureStandaloneConfig(layout, { defaultPartitions: 10 });
    assert.equal(first.partitions, 10);
    assert.equal(first.computerId, 'local');
    assert.ok(first.port > 0);
    const config = await loadNodeConfig({ cfg: layout.config, isRoot: false });
    assert.equal(config.sandbox, true);
    assert.equal(config.masterUrl, `http://127.0.0.1:${first.port}/`);
    assert.equal(config.instanceRoot, layout.instanceRoot);
    // The local secret: created once, just the token in a 0600 file of a 0700 etc/, also in slapos.cfg (0600).
    assert.equal(first.tokenAdded, true);
    assert.match(first.accessToken, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await readFile(layout.tokenFile, 'utf8'), first.accessToken);
    assert.equal((await stat(layout.tokenFile)).mode & 0o777, 0o600);
    assert.equal((await stat(layout.config)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'etc'))).mode & 0o777, 0o700);
    assert.equal(config.masterToken, first.accessToken);

    assert.equal(config.options.watch_local_software, 'true', 'a standalone watches local releases');

    const unchanged = { ...first, tokenAdded: false, cacheAdded: false };
    assert.deepEqual(await ensureStandaloneConfig(layout, { defaultPartitions: 3 }), unchanged);
    // A standalone written before the option existed gets it; one that says false keeps false.
    const withoutWatch = (await readFile(layout.config, 'utf8')).replace(/^watch_local_software.*\n/m, '');
    await writeFile(layout.config, withoutWatch);
    await ensureStandaloneConfig(layout, { defaultPartitions: 3 });
    assert.equal(
      (await loadNodeConfig({ cfg: layout.config, isRoot: false })).options.watch_local_software,
      'true',
    );
    await writeFile(
      layout.config,
      `${withoutWatch.replace('[slapos]\n', '[slapos]\nwatch_local_software = false\n')}`,
    );
    await ensureStandaloneConfig(layout, { defaultPartitions: 3 });
    assert.equal(
      (await loadNodeConfig({ cfg: layout.config, isRoot: false })).options.watch_local_software,
      'false',
    );
    await writeFile(layout.config, (await readFile(layout.config, 'utf8')) + '[extra]\nkept = yes\n');
    const grown = await ensureStandaloneConfig(layout, { partitions: 12, defaultPartitions: 10 });
    assert.deepEqual(grown, { ...unchanged, partitions: 12 });
    assert.match(await readFile(layout.config, 'utf8'), /kept = yes/);
    await rejectsWithSlapError(
      ensureStandaloneConfig(layout, { partitions: 2, defaultPartitions: 10 }),
      'SLAP_ERR_FORMAT_SHRINK',
      /can only grow/,
    );
    await writeFile(layout.config, '[slapos]\nfoo = bar\n');
    await rejectsWithSlapError(
      readStandaloneConfig(layout),
      'SLAP_ERR_CONFIG',
      /not a standalone configuration/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a slapos.cfg made before the token (older versions) gets it at the next start, the rest kept', async () => {
  const dir = await shortTempDir('sa-old-');
  try {
    const layout = standaloneLayout(dir);
    const first = await ensureStandaloneConfig(layout, { defaultPartitions: 2 });
    const text = await readFile(layout.config, 'utf8');
    const old = `${text.replace(/^master_token = .*\n/m, '')}[extra]\nkept = yes\n`;
    assert.doesNotMatch(old, /master_token/);
    await writeFile(layout.config, old, { mode: 0o644 });
    await chmod(layout.config, 0o644);
    await rm(layout.tokenFile);
    const migrated = await ensureStandaloneConfig(layout, { defaultPartitions: 2 });
    assert.equal(migrated.tokenAdded, true);
    assert.notEqual(migrated.accessToken, first.accessToken);
    const now = await readFile(layout.config, 'utf8');
    assert.equal(now.replace(/^master_token = .*\n/m, ''), old, 'only the token line was added');
    assert.equal((await stat(layout.config)).mode & 0o777, 0o600);
    assert.equal(await readFile(layout.tokenFile, 'utf8'), migrated.accessToken);
    assert.equal(
      (await loadNodeConfig({ cfg: layout.config, isRoot: false })).masterToken,
      migrated.accessToken,
    );
    // A token file readable by others is refused, not silently used.
    await chmod(layout.tokenFile, 0o640);
    await rejectsWithSlapError(
      ensureStandaloneConfig(layout, { defaultPartitions: 2 }),
      'SLAP_ERR_CONFIG',
      /other users/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the token goes into [slapos] even when another section has a master_token line', async () => {
  const dir = await shortTempDir('sa-sec-');
  try {
    const layout = standaloneLayout(dir);
    await ensureStandaloneConfig(layout, { defaultPartitions: 2 });
    const text = (await readFile(layout.config, 'utf8')).replace(/^master_token = .*\n/m, '');
    const other = `[slapconsole]\nmaster_token = not-this-one\n\n${text}`;
    await writeFile(layout.config, other, { mode: 0o600 });
    const ensured = await ensureStandaloneConfig(layout, { defaultPartitions: 2 });
    const now = await readFile(layout.config, 'utf8');
    assert.equal(parseIni(now).get('slapos', 'master_token'), ensured.accessToken);
    assert.equal(parseIni(now).get('slapconsole', 'master_token'), 'not-this-one');
    // Given once: the next start changes nothing.
    assert.equal((await ensureStandaloneConfig(layout, { defaultPartitions: 2 })).tokenAdded, false);
    assert.equal(await readFile(layout.config, 'utf8'), now);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('started as root: a warning first (the uid is injected)', async () => {
  const deep = `/tmp/${'d'.repeat(100)}`;
  for (const runningAsRoot of [true, false]) {
    const steps: StandaloneStep[] = [];
    await rejectsWithSlapError(
      startStandalone(deep, { runningAsRoot, onStep: (step) => steps.push(step) }),
      'SLAP_ERR_CONFIG',
      /too deep/,
    );
    assert.deepEqual(steps, runningAsRoot ? [{ step: 'root', dir: deep }] : []);
  }
  assert.match(
    describeStep({ step: 'root', dir: '/x' }),
    /^Warning: running as root: .*services.* will run as root/,
  );
});

test('background processes: pid files, stale ones removed, exits at start reported with the log', async () => {
  const dir = await shortTempDir('sa-proc-');
  try {
    const pidFile = join(dir, 'run', 'x.pid');
    await writePidFile(pidFile, 999_999);
    assert.equal(await livePid(pidFile), undefined);
    await assert.rejects(readFile(pidFile), /ENOENT/, 'a stale pid file is removed');

    const log = join(dir, 'log', 'x.log');
    const sleeper = await spawnDetached(['-e', 'setTimeout(() => {}, 60000)'], { logFile: log, cwd: dir });
    await writePidFile(pidFile, sleeper.pid);
    assert.equal(await livePid(pidFile), sleeper.pid);
    assert.equal(await terminate(sleeper.pid, 5000), true);
    // Its memory is released before it turns zombie: it may still look alive for a moment.
    await waitFor('the sleeper gone', () => !pidAlive(sleeper.pid));
    assert.equal(await terminate(sleeper.pid, 5000), false, 'nothing to stop');

    const failing = await spawnDetached(['-e', 'console.error("cannot bind 127.0.0.1:1"); process.exit(3)'], {
      logFile: log,
      cwd: dir,
    });
    await rejectsWithSlapError(
      waitUntilReady('the thing', failing, {
        ready: () => Promise.resolve(false),
        timeoutMs: 20_000,
        logFile: log,
      }),
      'SLAP_ERR_UNAVAILABLE',
      /the thing exited at start \(status 3\):\ncannot bind 127\.0\.0\.1:1/,
    );
    const slow = await spawnDetached(['-e', 'setTimeout(() => {}, 60000)'], { logFile: log, cwd: dir });
    await rejectsWithSlapError(
      waitUntilReady('the slow one', slow, {
        ready: () => Promise.resolve(false),
        timeoutMs: 200,
        logFile: log,
      }),
      'SLAP_ERR_TIMEOUT',
      /did not come up within 0\.2 s/,
    );
    await terminate(slow.pid, 5000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed start stops what it started and leaves running what ran before', async () => {
  const dir = await shortTempDir('sa-fail-');
  // An agent that cannot start: node refuses the option.
  const brokenAgent = { agentNodeOptions: ['--no-such-node-option'], partitions: 1, timeoutMs: 60_000 };
  try {
    await rejectsWithSlapError(
      startStandalone(dir, brokenAgent),
      'SLAP_ERR_UNAVAILABLE',
      /the node agent exited at start/,
    );
    let status = await standaloneStatus(dir);
    assert.deepEqual(
      [status.master.running, status.cache.running, status.supervisor.running, status.agent.running],
      [false, false, false, false],
      'nothing left running',
    );
    assert.equal(status.cache.pid, null);
    assert.equal(status.master.pid, null, 'no pid file left behind');

    const info = await startStandalone(dir, { partitions: 1, timeoutMs: 60_000 });
    await terminate(info.pids.agent, 10_000);
    await rejectsWithSlapError(startStandalone(dir, brokenAgent), 'SLAP_ERR_UNAVAILABLE', /node agent/);
    status = await standaloneStatus(dir);
    assert.deepEqual(
      [status.master.pid, status.cache.pid, status.supervisor.pid, status.agent.running],
      [info.pids.master, info.pids.cache, info.pids.supervisor, false],
      'the master, the cache server and the supervisor that ran before still run',
    );
  } finally {
    await stopStandalone(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test('a master and an agent left running by a version without the token are restarted with it', async () => {
  const dir = await shortTempDir('sa-mig-');
  try {
    const layout = standaloneLayout(dir);
    const info = await startStandalone(dir, { partitions: 1, timeoutMs: 60_000 });
    // What an older version leaves: a slapos.cfg without token and a master without authentication.
    await terminate(info.pids.master, 10_000);
    await writeFile(
      layout.config,
      (await readFile(layout.config, 'utf8')).replace(/^master_token = .*\n/m, ''),
    );
    await rm(layout.tokenFile);
    const open = await spawnDetached([slaposBinPath(), 'proxy', 'start', '--cfg', layout.config], {
      logFile: layout.masterLog,
      cwd: dir,
    });
    await writePidFile(layout.masterPidFile, open.pid);
    const hateoas = '/slapos.get.v0.hateoas_url';
    await waitFor(
      'the master without token',
      async () =>
        (await postJson(info.masterUrl, hateoas, {}).catch(() => undefined))?.status === 200
          ? true
          : undefined,
      { timeoutMs: 60_000, intervalMs: 50 },
    );

    const steps: StandaloneStep[] = [];
    const again = await startStandalone(dir, { timeoutMs: 60_000, onStep: (step) => steps.push(step) });
    assert.deepEqual(
      steps.find((step) => step.step === 'config'),
      { step: 'config', path: layout.config, created: false, tokenAdded: true },
    );
    assert.equal(again.alreadyRunning, false);
    assert.notEqual(again.pids.master, open.pid);
    assert.equal(pidAlive(open.pid), false, 'the open master is gone');
    assert.notEqual(again.pids.agent, info.pids.agent, 'the agent now reads the token');
    assert.equal(again.pids.supervisor, info.pids.supervisor, 'the services were left alone');
    const anonymous = await postJson(info.masterUrl, hateoas, {});
    assert.equal(anonymous.status, 401);
    const token = await readFile(layout.tokenFile, 'utf8');
    const allowed = await postJson(
      info.masterUrl,
      hateoas,
      {},
      { headers: { authorization: `Bearer ${token}` } },
    );
    assert.equal(allowed.status, 200);
    const status = await standaloneStatus(dir);
    assert.equal(status.running, true);
    assert.equal(status.client_config, layout.config);
    assert.equal(status.token_file, layout.tokenFile);
    // The other local doors: the directory, the supervisor's socket, the token are this user's only.
    assert.equal((await stat(dir)).mode & 0o077, 0);
    assert.equal((await stat(layout.supervisor.socket)).mode & 0o777, 0o600);
    assert.equal((await stat(layout.tokenFile)).mode & 0o777, 0o600);
  } finally {
    await stopStandalone(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test('a standalone whose master port is taken says so and where to change it; nothing is started', async (t) => {
  const dir = await shortTempDir('sa-port-');
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise((resolve) => squatter.close(resolve));
    await stopStandalone(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const port = (squatter.address() as AddressInfo).port;
  const layout = standaloneLayout(dir);
  await ensureStandaloneConfig(layout, { partitions: 1, defaultPartitions: 1 });
  const text = await readFile(layout.config, 'utf8');
  const configured = /^port = (\d+)$/m.exec(text)?.[1] ?? '';
  await writeFile(layout.config, text.replaceAll(configured, String(port)));

  const error = await rejectsWithSlapError(
    startStandalone(dir, { partitions: 1, timeoutMs: 60_000 }),
    'SLAP_ERR_LISTEN_FAILED',
    new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: another program uses that port`),
  );
  assert.match(error.hint ?? '', new RegExp(`${layout.config}: \`port\` under \\[slapproxy\\]`));
  assert.match(error.hint ?? '', /`master_url` under \[slapos\]/);
  const status = await standaloneStatus(dir);
  assert.deepEqual(
    [status.master.running, status.supervisor.running, status.agent.running, status.cache.running],
    [false, false, false, false],
  );
  assert.equal(status.cache.pid, null);

  const cli = await runSlapos(['standalone', 'start', '--dir', dir]);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, new RegExp(`hint: .*choose another port in ${layout.config}`));
});

test('the CLI: status of a missing standalone, bad --partitions, bad --grace, no slapos.cfg', async () => {
  const dir = await shortTempDir('sa-cli-');
  try {
    const status = await runSlapos(['standalone', 'status', '--dir', dir]);
    assert.equal(status.code, 3);
    assert.match(status.stdout, /No standalone SlapOS in .* \(slapos standalone start creates one\)/);
    const json = await runSlapos(['standalone', 'status', '--dir', dir, '--json']);
    assert.equal(json.code, 0);
    assert.deepEqual(
      (({ exists, running, master_url, computer_guid }) => ({ exists, running, master_url, computer_guid }))(
        JSON.parse(json.stdout) as Record<string, unknown>,
      ),
      { exists: false, running: false, master_url: null, computer_guid: null },
    );
    const stop = await runSlapos(['standalone', 'stop', '--dir', dir]);
    assert.equal(stop.code, 0);
    assert.match(stop.stdout, /was not running/);
    for (const value of ['0', 'ten', '1001']) {
      const start = await runSlapos(['standalone', 'start', '--dir', dir, '--partitions', value]);
      assert.equal(start.code, 5, start.stderr);
      assert.match(start.stderr, /expected a number of partitions between 1 and 1000/);
    }
    const grace = await runSlapos(['node', 'run', '--cfg', join(dir, 'none.cfg'), '--grace', 'x']);
    assert.equal(grace.code, 5);
    assert.match(grace.stderr, /--grace expects seconds, got "x"/);
    const missing = await runSlapos(['node', 'run', '--cfg', join(dir, 'none.cfg')]);
    assert.equal(missing.code, 5);
    assert.match(missing.stderr, /Configuration file .*none\.cfg does not exist/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the node's [networkcache]: the standalone's cache server, its signing key and its upload token", async () => {
  const dir = await shortTempDir('sa-nc-');
  try {
    const layout = standaloneLayout(dir);
    const settings = await ensureStandaloneConfig(layout, { defaultPartitions: 1 });
    assert.equal(settings.cacheAdded, true);
    assert.ok(settings.cachePort !== undefined && settings.cachePort !== settings.port);
    const url = `http://127.0.0.1:${settings.cachePort}`;
    await ensureCacheSignature(layout);
    const { networkcache } = await loadNodeConfig({ cfg: layout.config, isRoot: false });
    assert.deepEqual(
      {
        download: [networkcache['download-binary-cache-url'], networkcache['download-binary-dir-url']],
        upload: [networkcache['upload-binary-cache-url'], networkcache['upload-binary-dir-url']],
        key: networkcache['signature-private-key-file'],
        token: networkcache['upload-token-file'],
      },
      {
        download: [`${url}/shacache`, `${url}/shadir`],
        upload: [`${url}/shacache`, `${url}/shadir`],
        key: layout.signature.keyFile,
        token: join(layout.cacheDir, 'upload.token'),
      },
    );
    assert.equal((await stat(layout.signature.keyFile)).mode & 0o777, 0o600);
    // The certificate listed is the key's: what the node signs, it trusts.
    const certificate = new X509Certificate(networkcache['signature-certificate-list'] ?? '');
    assert.equal(certificate.publicKey.asymmetricKeyType, 'rsa');
    const key = createPrivateKey(await readFile(layout.signature.keyFile, 'utf8'));
    const entry = JSON.stringify({ sha512: 'ab'.repeat(64) });
    const signature = createSign('sha1').update(entry).sign(key);
    assert.equal(createVerify('sha1').update(entry).verify(certificate.publicKey, signature), true);
    assert.equal((await readStandaloneConfig(layout))?.cachePort, settings.cachePort);

    // Made once: a later start keeps the key and the section.
    const keyBefore = await readFile(layout.signature.keyFile, 'utf8');
    const configBefore = await readFile(layout.config, 'utf8');
    const again = await ensureStandaloneConfig(layout, { defaultPartitions: 1 });
    await ensureCacheSignature(layout);
    assert.equal(again.cacheAdded, false);
    assert.equal(await readFile(layout.signature.keyFile, 'utf8'), keyBefore);
    assert.equal(await readFile(layout.config, 'utf8'), configBefore);

    // A slapos.cfg made before the cache server gets the section, the rest as it was.
    const text = await readFile(layout.config, 'utf8');
    const old = text.slice(0, text.indexOf('[networkcache]')).replace(/\n+$/, '\n');
    await writeFile(layout.config, old);
    const migrated = await ensureStandaloneConfig(layout, { defaultPartitions: 1 });
    await ensureCacheSignature(layout);
    assert.equal(migrated.cacheAdded, true);
    const now = await readFile(layout.config, 'utf8');
    assert.equal(now.slice(0, old.length), old);
    assert.equal(
      parseIni(now, layout.config).get('networkcache', 'signature-private-key-file'),
      layout.signature.keyFile,
    );

    // Pointed elsewhere by hand: the standalone runs no cache server.
    await writeFile(
      layout.config,
      `${old}\n[networkcache]\ndownload-binary-cache-url = https://shacache.example/\n`,
    );
    const elsewhere = await ensureStandaloneConfig(layout, { defaultPartitions: 1 });
    await ensureCacheSignature(layout);
    assert.doesNotMatch(await readFile(layout.config, 'utf8'), /signature/);
    assert.equal(elsewhere.cachePort, undefined);
    assert.equal(elsewhere.cacheAdded, false);
    assert.equal((await standaloneStatus(dir)).cache.url, null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
