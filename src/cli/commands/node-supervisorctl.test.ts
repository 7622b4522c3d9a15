import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SupervisorClient } from '../../node/supervisor/client.ts';
import type { ActionResult, ProcessInfo } from '../../node/supervisor/types.ts';
import { runSlapos } from '../../testing/cli.ts';
import { pidAlive, tempDir, waitFor, writeScript } from '../../testing/supervisor.ts';

const SLAPOS_BIN = fileURLToPath(new URL('../../../../bin/slapos.js', import.meta.url));

test('slapos node status|start|stop|restart|tail|supervisorctl against a background supervisord', async (t) => {
  const dir = await tempDir();
  const root = ['--instance-root', dir.path];
  const client = new SupervisorClient({ socketPath: join(dir.path, 'sv.sock') });
  t.after(async () => {
    await client.shutdown({ stopPrograms: true }).catch(() => undefined);
    await dir.remove();
  });

  const missing = await runSlapos(['node', 'status', ...root]);
  assert.equal(missing.code, 69);
  assert.equal(
    missing.stderr,
    `slapos: error: supervisor is not running (socket ${dir.path}/sv.sock)\nhint: start it with \`slapos node supervisord\`\n`,
  );

  const started = await runSlapos(['node', 'supervisord', ...root]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(
    started.stdout,
    new RegExp(`^supervisor started \\(pid \\d+, socket ${dir.path}/sv.sock\\)\\n$`),
  );
  const again = await runSlapos(['node', 'supervisord', ...root, '--json']);
  assert.equal((JSON.parse(again.stdout) as { alreadyRunning: boolean }).alreadyRunning, true);

  // The node agent declares the partition's programs (here directly through the client).
  const service = await writeScript(
    dir.path,
    'service',
    'echo "hello from $SUPERVISOR_PROCESS_NAME"; exec sleep 1000',
  );
  const spec = { command: service, autostart: false, startsecs: 0 };
  await client.updateGroup('slappart0', [
    { name: 'web-on-watch', ...spec },
    { name: 'db-on-watch', ...spec },
  ]);
  await client.updateGroup('slappart1', [{ name: 'cron-on-watch', ...spec }]);

  const status = await runSlapos(['node', 'status', ...root]);
  assert.equal(status.code, 0);
  assert.deepEqual(status.stdout.split('\n'), [
    'slappart0:db-on-watch            STOPPED    Not started',
    'slappart0:web-on-watch           STOPPED    Not started',
    'slappart1:cron-on-watch          STOPPED    Not started',
    '',
  ]);

  const start = await runSlapos(['node', 'start', ...root, 'slappart0:*']);
  assert.equal(start.code, 0, start.stderr);
  assert.deepEqual(start.stdout.trim().split('\n').sort(), [
    'slappart0:db-on-watch: started',
    'slappart0:web-on-watch: started',
  ]);
  const running = await runSlapos(['node', 'supervisorctl', 'status', ...root, 'slappart0']);
  assert.match(running.stdout, /^slappart0:db-on-watch {12}RUNNING {4}pid \d+, uptime 0:00:0\d\n/);
  assert.doesNotMatch(running.stdout, /slappart1/);

  const errors = await runSlapos([
    'node',
    'start',
    ...root,
    'slappart0:web-on-watch',
    'slappart0:nope',
    'slappart9',
  ]);
  assert.equal(errors.code, 1);
  assert.equal(
    errors.stdout,
    [
      'slappart0:web-on-watch: ERROR (already started)',
      'slappart0:nope: ERROR (no such process)',
      'slappart9: ERROR (no such process)',
      '',
    ].join('\n'),
  );

  const json = await runSlapos(['node', 'status', ...root, '--json']);
  const before = JSON.parse(json.stdout) as ProcessInfo[];
  assert.deepEqual(
    before.map((p) => [p.fullName, p.state]),
    [
      ['slappart0:db-on-watch', 'RUNNING'],
      ['slappart0:web-on-watch', 'RUNNING'],
      ['slappart1:cron-on-watch', 'STOPPED'],
    ],
  );

  const restart = await runSlapos(['node', 'restart', ...root, 'all']);
  assert.equal(restart.code, 0, restart.stdout + restart.stderr);
  const lines = restart.stdout.trim().split('\n');
  assert.deepEqual(lines.filter((l) => l.endsWith('stopped')).sort(), [
    'slappart0:db-on-watch: stopped',
    'slappart0:web-on-watch: stopped',
  ]);
  assert.equal(lines.filter((l) => l.endsWith('started')).length, 3);
  const after = (await client.status()).processes;
  assert.ok(after.every((p) => p.state === 'RUNNING'));
  for (const p of before) if (p.pid !== null) assert.ok(!pidAlive(p.pid), 'restart replaced the process');

  const tail = await runSlapos(['node', 'tail', ...root, 'slappart0:web-on-watch']);
  assert.equal(tail.code, 0);
  assert.match(tail.stdout, /hello from web-on-watch\n/);
  const short = await runSlapos([
    'node',
    'supervisorctl',
    'tail',
    ...root,
    '-n',
    '6',
    'slappart0:web-on-watch',
    'stdout',
  ]);
  assert.equal(short.stdout, 'watch\n');
  const badBytes = await runSlapos(['node', 'tail', ...root, '--bytes', 'lots', 'slappart0:web-on-watch']);
  assert.equal(badBytes.code, 5);
  assert.match(badBytes.stderr, /--bytes: a positive integer, not lots/);
  const badName = await runSlapos(['node', 'tail', ...root, 'slappart0:ghost']);
  assert.equal(badName.code, 1);
  assert.match(badName.stderr, /no such process: slappart0:ghost/);

  const stop = await runSlapos([
    'node',
    'stop',
    ...root,
    '--json',
    'slappart1:cron-on-watch',
    'slappart1:cron-on-watch',
  ]);
  assert.equal(stop.code, 1);
  const results = JSON.parse(stop.stdout) as ActionResult[];
  assert.deepEqual(
    results.map((r) => (r.ok ? r.info.state : r.error.reason)),
    ['STOPPED', 'not running'],
  );

  const usage = await runSlapos(['node', 'start', ...root]);
  assert.equal(usage.code, 5, 'start needs names');

  const pid = await runSlapos(['node', 'supervisorctl', 'pid', ...root]);
  assert.equal(pid.stdout.trim(), String((await client.status()).pid));

  // The original's order, `supervisorctl [options] verb`, works as well as the options after the verb.
  const pidFirst = await runSlapos(['node', 'supervisorctl', ...root, 'pid']);
  assert.equal(pidFirst.code, 0, pidFirst.stderr);
  assert.equal(pidFirst.stdout, pid.stdout);
  const shutdown = await runSlapos(['node', 'supervisorctl', ...root, 'shutdown']);
  assert.equal(shutdown.code, 0, shutdown.stderr);
  assert.equal(shutdown.stdout, 'Shut down\n');
  for (const p of after) if (p.pid !== null) assert.ok(!pidAlive(p.pid), `${p.fullName} stopped by shutdown`);
  await waitFor('socket gone', async () => (await runSlapos(['node', 'status', ...root])).code === 69);
});

test('the supervisor is found through slapos.cfg ([slapos] instance_root), --cfg or $SLAPOS_CONFIGURATION', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const cfg = join(dir.path, 'slapos.cfg');
  await writeFile(cfg, `[slapos]\ninstance_root = ${dir.path}/inst\n`);
  const viaFlag = await runSlapos(['node', 'status', '--cfg', cfg]);
  assert.equal(viaFlag.code, 69);
  assert.match(viaFlag.stderr, new RegExp(`socket ${dir.path}/inst/sv.sock`));
  for (const args of [
    ['node', 'supervisorctl', '--cfg', cfg, 'status'],
    ['node', 'supervisorctl', 'status', '--cfg', cfg],
    ['node', 'supervisorctl', '--cfg', cfg, 'shutdown'],
    ['node', 'supervisorctl', 'shutdown', '--cfg', cfg],
  ]) {
    const result = await runSlapos(args);
    assert.equal(result.code, 69, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`socket ${dir.path}/inst/sv.sock`), args.join(' '));
  }
  const viaEnv = await runSlapos(['node', 'status'], { env: { ...process.env, SLAPOS_CONFIGURATION: cfg } });
  assert.match(viaEnv.stderr, new RegExp(`socket ${dir.path}/inst/sv.sock`));
  // A relative instance_root is taken from slapos.cfg's directory, as every node command does.
  const relativeCfg = join(dir.path, 'relative.cfg');
  await writeFile(relativeCfg, '[slapos]\ninstance_root = inst\n');
  const relative = await runSlapos(['node', 'status', '--cfg', 'relative.cfg'], { cwd: dir.path });
  assert.match(relative.stderr, new RegExp(`socket ${dir.path}/inst/sv.sock`));
  const viaSocket = await runSlapos(['node', 'status', '--socket', join(dir.path, 'other.sock')], {
    env: { ...process.env, SLAPOS_CONFIGURATION: '' },
  });
  assert.match(viaSocket.stderr, /socket .*other\.sock/);

  const missing = await runSlapos(['node', 'status', '--cfg', join(dir.path, 'nope.cfg')]);
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /cannot read .*nope\.cfg/);
  await writeFile(join(dir.path, 'empty.cfg'), '[slapos]\nsoftware_root = /opt\n');
  const noRoot = await runSlapos(['node', 'status', '--cfg', join(dir.path, 'empty.cfg')]);
  assert.equal(noRoot.code, 5);
  assert.match(noRoot.stderr, /\[slapos\] instance_root is missing/);
  const noDir = await runSlapos(['node', 'supervisord', '--socket', join(dir.path, 'x.sock')], {
    env: { ...process.env, SLAPOS_CONFIGURATION: '' },
  });
  assert.equal(noDir.code, 5);
  assert.match(noDir.stderr, /needs an instance root/);
  const tooLong = await runSlapos([
    'node',
    'supervisord',
    '--instance-root',
    join(dir.path, 'd'.repeat(110)),
  ]);
  assert.equal(tooLong.code, 5);
  assert.match(tooLong.stderr, /over the 107-byte limit of unix sockets/);
});

test('slapos node supervisord -n: foreground; SIGTERM stops it and leaves the services running', async (t) => {
  const dir = await tempDir();
  const client = new SupervisorClient({ socketPath: join(dir.path, 'sv.sock') });
  t.after(async () => {
    await client.shutdown({ stopPrograms: true }).catch(() => undefined);
    await dir.remove();
  });
  const foreground = spawn(
    process.execPath,
    [SLAPOS_BIN, '-q', 'node', 'supervisord', '-n', '--instance-root', dir.path],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  foreground.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => foreground.once('exit', resolve));
  t.after(() => {
    if (foreground.exitCode === null) foreground.kill('SIGKILL');
  });
  await waitFor('foreground supervisor answers', () =>
    client.status().then(
      () => true,
      () => false,
    ),
  );
  await client.updateGroup('slappart0', [
    { name: 'svc', command: '/bin/sleep', args: ['1000'], startsecs: 0 },
  ]);
  const info = await waitFor('autostarted', async () => {
    const p = (await client.status()).processes[0];
    return p?.state === 'RUNNING' ? p : undefined;
  });
  foreground.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.ok(info.pid !== null && pidAlive(info.pid), 'the service outlives its supervisor');
  t.after(() => {
    if (info.pid !== null && pidAlive(info.pid)) process.kill(-info.pid, 'SIGKILL');
  });

  const background = await runSlapos(['node', 'supervisord', '--instance-root', dir.path]);
  assert.equal(background.code, 0, background.stderr);
  const status = await runSlapos(['node', 'status', '--instance-root', dir.path, '--json']);
  const [process0] = JSON.parse(status.stdout) as ProcessInfo[];
  assert.deepEqual([process0?.state, process0?.pid, process0?.adopted], ['RUNNING', info.pid, true]);
});
