/**
 * The standalone's pieces: its directory and configuration, pid files and background processes, a
 * failed start, and the CLI's refusals of bad input (the whole lifecycle runs in
 * e2e/standalone.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runSlapos } from '../testing/cli.ts';
import { rejectsWithSlapError, throwsSlapError } from '../testing/slap-error-assert.ts';
import { shortTempDir } from '../testing/standalone.ts';
import { pidAlive, waitFor } from '../testing/supervisor.ts';
import { ensureStandaloneConfig, readStandaloneConfig } from './config-file.ts';
import { checkSocketPath, resolveStandaloneDir, standaloneLayout } from './layout.ts';
import { standaloneStatus, startStandalone, stopStandalone } from './standalone.ts';
import { livePid, spawnDetached, terminate, waitUntilReady, writePidFile } from './processes.ts';
import { loadNodeConfig } from '../node/config.ts';

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

    assert.equal(config.options.watch_local_software, 'true', 'a standalone watches local releases');

    assert.deepEqual(await ensureStandaloneConfig(layout, { defaultPartitions: 3 }), first);
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
    assert.deepEqual(grown, { ...first, partitions: 12 });
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
      [status.master.running, status.supervisor.running, status.agent.running],
      [false, false, false],
      'nothing left running',
    );
    assert.equal(status.master.pid, null, 'no pid file left behind');

    const info = await startStandalone(dir, { partitions: 1, timeoutMs: 60_000 });
    await terminate(info.pids.agent, 10_000);
    await rejectsWithSlapError(startStandalone(dir, brokenAgent), 'SLAP_ERR_UNAVAILABLE', /node agent/);
    status = await standaloneStatus(dir);
    assert.deepEqual(
      [status.master.pid, status.supervisor.pid, status.agent.running],
      [info.pids.master, info.pids.supervisor, false],
      'the master and the supervisor that ran before still run',
    );
  } finally {
    await stopStandalone(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
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
