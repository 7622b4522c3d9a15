import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SlapError } from '../../core/errors.ts';
import { execFile } from '../../lib/exec.ts';
import { makeTempDir } from '../../testing/node.ts';
import {
  promiseFailureMessage,
  runPromises,
  type PromiseOutcome,
  type RunPromisesOptions,
} from './run-promises.ts';
import type { PromiseResultFile } from './store.ts';

async function partition(): Promise<string> {
  const dir = await makeTempDir('slapos-promise-');
  await mkdir(join(dir, 'etc', 'promise'), { recursive: true });
  await mkdir(join(dir, 'etc', 'promise.d'), { recursive: true });
  return dir;
}

async function legacy(dir: string, name: string, script: string, mode = 0o755): Promise<void> {
  const path = join(dir, 'etc', 'promise', name);
  await writeFile(path, `#!/bin/sh\n${script}\n`);
  await chmod(path, mode);
}

async function declarative(dir: string, title: string, definition: unknown): Promise<void> {
  await writeFile(join(dir, 'etc', 'promise.d', `${title}.json`), JSON.stringify(definition));
}

/** An exec that counts the processes it starts. */
function countingExec() {
  const calls: string[] = [];
  const exec: typeof execFile = (file, args, options) => {
    calls.push(file);
    return execFile(file, args, options);
  };
  return { calls, exec };
}

function byTitle(results: readonly PromiseOutcome[], title: string): PromiseOutcome {
  const found = results.find((r) => r.title === title);
  assert.ok(found, `a result for ${title}`);
  return found;
}

async function listen(server: Server | NetServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return address.port;
}

/** A port nothing listens on (bound, then closed). */
async function closedPortNumber(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('legacy promises: exit 0 passes with its output, non-zero fails, a sleeper is killed with its process group', async () => {
  const dir = await partition();
  try {
    await legacy(dir, 'ok', 'echo all good');
    await legacy(dir, 'broken', 'echo out; echo "port 80 is closed" >&2; exit 3');
    await legacy(dir, 'silent-failure', 'exit 4');
    // Starts a grandchild, records both pids and its process group, then sleeps past the timeout.
    await legacy(
      dir,
      'sleeper',
      `sleep 300 & echo $! > ${dir}/child.pid; echo $$ > ${dir}/self.pid; ps -o pgid= $$ > ${dir}/pgid; wait`,
    );
    await legacy(dir, 'not-executable', 'exit 1', 0o644);
    const report = await runPromises(dir, { mode: 'test', force: true, timeout: 1 });
    assert.deepEqual(report.results.map((r) => r.title).sort(), [
      'broken',
      'ok',
      'silent-failure',
      'sleeper',
    ]);
    assert.equal(report.ok, false);
    assert.deepEqual(byTitle(report.results, 'ok'), {
      ...byTitle(report.results, 'ok'),
      failed: false,
      message: 'all good',
      legacy: true,
      kind: 'executable',
      bangOnFailure: false,
    });
    assert.equal(byTitle(report.results, 'broken').failed, true);
    assert.match(byTitle(report.results, 'broken').message, /out\nport 80 is closed/);
    assert.equal(byTitle(report.results, 'silent-failure').message, 'failed with exit code 4');
    const sleeper = byTitle(report.results, 'sleeper');
    assert.equal(sleeper.failed, true);
    assert.equal(sleeper.timedOut, true);
    assert.equal(sleeper.message, 'Error: Promise timed out after 1 seconds');

    const pids = [
      Number(await readFile(join(dir, 'self.pid'), 'utf8')),
      Number(await readFile(join(dir, 'child.pid'), 'utf8')),
    ];
    const pgid = Number((await readFile(join(dir, 'pgid'), 'utf8')).trim());
    assert.equal(pgid, pids[0], 'the promise ran in its own process group');
    const deadline = Date.now() + 10_000;
    while (pids.some(pidAlive) && Date.now() < deadline) await sleep(50);
    assert.deepEqual(pids.filter(pidAlive), [], 'the promise and its child are gone');
    assert.throws(() => process.kill(-pgid, 0), /ESRCH/, 'no process of its group is left');

    assert.match(
      promiseFailureMessage(report),
      /^Promise 'broken' failed with output: out\nport 80 is closed$/m,
    );
    assert.match(
      promiseFailureMessage(report),
      /^Promise 'sleeper' failed with output: Error: Promise timed out after 1 seconds$/m,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('declarative socket, url and file checks run in-process (no process spawned)', async () => {
  const dir = await partition();
  const tcp = createServer((socket) => socket.end());
  const silentTcp = createServer(() => undefined); // accepts, never answers
  const web = createHttpServer((request, response) => {
    if (request.url === '/redirect') {
      response.writeHead(302, { location: '/' });
      response.end();
    } else if (request.url === '/') response.end('hello from the instance');
    else if (request.url === '/hang')
      return; // never answers
    else {
      response.writeHead(404);
      response.end('nope');
    }
  });
  const closedPort = await closedPortNumber();
  try {
    const tcpPort = await listen(tcp);
    const webPort = await listen(web);
    await listen(silentTcp);
    const base = `http://127.0.0.1:${webPort}`;
    const unixPath = join(dir, 'var', 'app.sock');
    await mkdir(join(dir, 'var'));
    const unixServer = createServer((s) => s.end());
    await new Promise<void>((resolve) => unixServer.listen(unixPath, resolve));
    await writeFile(join(dir, 'var', 'ready'), 'yes');
    await writeFile(join(dir, 'var', 'empty'), '');

    await declarative(dir, 'tcp-ok', { kind: 'socket', host: '127.0.0.1', port: tcpPort });
    await declarative(dir, 'tcp-closed', { kind: 'socket', host: '127.0.0.1', port: closedPort });
    await declarative(dir, 'unix-ok', { kind: 'socket', path: 'var/app.sock' });
    await declarative(dir, 'url-ok', { kind: 'url', url: `${base}/redirect`, contains: 'hello' });
    await declarative(dir, 'url-404', { kind: 'url', url: `${base}/missing` });
    await declarative(dir, 'url-expected-404', { kind: 'url', url: `${base}/missing`, status: 404 });
    await declarative(dir, 'url-wrong-content', { kind: 'url', url: base, contains: 'goodbye' });
    await declarative(dir, 'url-hang', { kind: 'url', url: `${base}/hang`, timeout: 0.5 });
    await declarative(dir, 'url-unreachable', { kind: 'url', url: `http://127.0.0.1:${closedPort}/` });
    await declarative(dir, 'file-ok', { kind: 'file', path: 'var/ready', 'min-size': 1 });
    await declarative(dir, 'file-empty', { kind: 'file', path: 'var/empty', 'min-size': 1 });
    await declarative(dir, 'file-must-be-empty', { kind: 'file', path: 'var/ready', 'max-size': 0 });
    await declarative(dir, 'file-absent', { kind: 'file', path: 'var/lock', exists: false });
    await declarative(dir, 'file-missing', { kind: 'file', path: `${dir}/var/nothing` });
    const { calls, exec } = countingExec();
    const report = await runPromises(dir, { mode: 'test', force: true, exec, timeout: 5 });
    unixServer.close();

    assert.deepEqual(calls, [], 'no process was spawned');
    const verdicts = Object.fromEntries(report.results.map((r) => [r.title, r.failed ? 'failed' : 'ok']));
    assert.deepEqual(verdicts, {
      'file-absent': 'ok',
      'file-empty': 'failed',
      'file-missing': 'failed',
      'file-must-be-empty': 'failed',
      'file-ok': 'ok',
      'tcp-closed': 'failed',
      'tcp-ok': 'ok',
      'unix-ok': 'ok',
      'url-404': 'failed',
      'url-expected-404': 'ok',
      'url-hang': 'failed',
      'url-ok': 'ok',
      'url-unreachable': 'failed',
      'url-wrong-content': 'failed',
    });
    assert.match(byTitle(report.results, 'tcp-closed').message, /ECONNREFUSED/);
    assert.match(
      byTitle(report.results, 'url-404').message,
      /is not available \(returned 404, expected 200\)/,
    );
    assert.match(byTitle(report.results, 'url-unreachable').message, /server not reachable/);
    assert.equal(byTitle(report.results, 'url-hang').timedOut, true);
    assert.match(byTitle(report.results, 'url-hang').message, /timed out after 0.5 seconds/);
    assert.match(byTitle(report.results, 'file-empty').message, /has 0 bytes, fewer than 1/);
  } finally {
    tcp.close();
    silentTcp.close();
    web.closeAllConnections();
    web.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('command checks run through the shell or as argv, with a timeout', async () => {
  const dir = await partition();
  try {
    await declarative(dir, 'shell-ok', { kind: 'command', command: 'test -d etc && echo "in $PWD"' });
    await declarative(dir, 'argv-fail', { kind: 'command', command: ['/bin/sh', '-c', 'echo nope; exit 1'] });
    await declarative(dir, 'slow', { kind: 'command', command: 'sleep 30', timeout: 0.5 });
    const { calls, exec } = countingExec();
    const report = await runPromises(dir, { mode: 'test', force: true, exec });
    assert.equal(calls.length, 3);
    assert.equal(byTitle(report.results, 'shell-ok').failed, false);
    assert.equal(byTitle(report.results, 'shell-ok').message, `in ${dir}`);
    assert.equal(byTitle(report.results, 'argv-fail').message, 'nope');
    assert.equal(byTitle(report.results, 'slow').timedOut, true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('results are stored per promise in the original result format', async () => {
  const dir = await partition();
  try {
    await legacy(dir, 'check', 'echo checked');
    await declarative(dir, 'absent', { kind: 'file', path: 'nothing-here' });
    const now = Date.UTC(2026, 0, 2, 3, 4, 5);
    await runPromises(dir, { mode: 'test', force: true, now: () => now });
    const result = JSON.parse(
      await readFile(join(dir, '.slapgrid', 'promise', 'result', 'check.status.json'), 'utf8'),
    ) as PromiseResultFile;
    assert.equal(typeof result['execution-time'], 'number');
    assert.deepEqual(result, {
      title: 'check',
      name: 'check',
      path: join(dir, 'etc', 'promise', 'check'),
      'execution-time': result['execution-time'],
      result: { type: 'Test Result', failed: false, date: '2026-01-02T03:04:05+0000', message: 'checked' },
    });
    const absent = JSON.parse(
      await readFile(join(dir, '.slapgrid', 'promise', 'result', 'absent.status.json'), 'utf8'),
    ) as PromiseResultFile;
    assert.equal(absent.name, 'absent.json');
    assert.equal(absent.result.failed, true);
    assert.match(absent.result.message ?? '', /nothing-here is not present/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('periodicity: a promise runs again only when due, when forced, or when its definition changed', async () => {
  const dir = await partition();
  try {
    await legacy(dir, 'counter', `echo run >> ${dir}/runs; echo counted`);
    await declarative(dir, 'hourly', {
      kind: 'command',
      command: `echo run >> ${dir}/hourly-runs`,
      periodicity: 3600,
    });
    const runs = async (file = 'runs') =>
      (await readFile(join(dir, file), 'utf8')).split('\n').filter(Boolean).length;
    let now = 1_000_000_000_000;
    const options: RunPromisesOptions = { mode: 'anomaly', now: () => now };

    const first = await runPromises(dir, options);
    assert.equal(await runs(), 1);
    assert.equal(byTitle(first.results, 'counter').ran, true);
    now += 60_000;
    const second = await runPromises(dir, options);
    assert.equal(await runs(), 1, 'not due after 60 s (legacy periodicity is 2 minutes)');
    assert.equal(byTitle(second.results, 'counter').ran, false);
    assert.equal(byTitle(second.results, 'counter').message, 'counted', 'the stored result stands');
    now += 61_000;
    await runPromises(dir, options);
    assert.equal(await runs(), 2, 'due after 2 minutes');
    assert.equal(await runs('hourly-runs'), 1, 'the hourly promise waits for its own periodicity');
    await runPromises(dir, { ...options, force: true });
    assert.equal(await runs(), 3, 'forced');
    assert.equal(await runs('hourly-runs'), 2, 'forced');
    await declarative(dir, 'hourly', {
      kind: 'command',
      command: `echo run >> ${dir}/hourly-runs`,
      periodicity: 7200,
    });
    await runPromises(dir, options);
    assert.equal(await runs('hourly-runs'), 3, 'a changed definition runs at once');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('anomaly mode needs several failures in a row; a lone timeout does not count; test mode takes the latest run', async () => {
  const dir = await partition();
  try {
    const flag = join(dir, 'healthy');
    await declarative(dir, 'health', { kind: 'file', path: flag, periodicity: 1 });
    await writeFile(flag, 'y');
    let now = 2_000_000_000_000;
    const anomaly = () => runPromises(dir, { mode: 'anomaly', now: () => (now += 2000) });
    assert.equal((await anomaly()).ok, true);
    await rm(flag);
    // file checks replace check_file_state: one failure is an anomaly (failure-amount 1).
    assert.equal((await anomaly()).ok, false);
    assert.equal((await runPromises(dir, { mode: 'test', force: true })).ok, false);

    await declarative(dir, 'health', { kind: 'file', path: flag, periodicity: 1, 'failure-amount': 3 });
    const verdicts: boolean[] = [];
    for (let i = 0; i < 3; i += 1) verdicts.push((await anomaly()).ok);
    assert.deepEqual(verdicts, [true, true, false], 'an anomaly only after 3 failed runs in a row');
    assert.equal((await anomaly()).bang?.title, 'health');

    await writeFile(flag, 'y');
    assert.equal((await anomaly()).ok, true);
    await rm(dir + '/etc/promise.d/health.json');
    await declarative(dir, 'slow', {
      kind: 'command',
      command: 'sleep 10',
      timeout: 0.3,
      periodicity: 1,
      'failure-amount': 1,
    });
    await legacy(dir, 'fine', 'true');
    const afterSuccess = await anomaly();
    assert.equal(byTitle(afterSuccess.results, 'slow').timedOut, true);
    assert.equal(byTitle(afterSuccess.results, 'slow').failed, false, 'a first timeout is not an anomaly');
    assert.equal((await anomaly()).ok, false, 'a second timeout in a row is');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad definitions are failing promises that say what is wrong; test-less and anomaly-less promises are skipped', async () => {
  const dir = await partition();
  try {
    await writeFile(join(dir, 'etc', 'promise.d', 'garbage.json'), '{ not json');
    await declarative(dir, 'typo', { kind: 'socket', host: '::1', prot: 80 });
    await declarative(dir, 'no-kind', { url: 'http://x/' });
    await declarative(dir, 'bad-port', { kind: 'socket', host: '::1', port: 70000 });
    await declarative(dir, 'bad-url', { kind: 'url', url: 'ftp://x/' });
    await declarative(dir, 'only-anomaly', { kind: 'file', path: 'x', test: false });
    await mkdir(join(dir, 'etc', 'plugin'));
    await writeFile(join(dir, 'etc', 'plugin', 'check-python.py'), 'import sys');
    await writeFile(join(dir, 'etc', 'plugin', 'translated.py'), 'import sys');
    await writeFile(join(dir, 'etc', 'plugin', '__init__.py'), '');
    await declarative(dir, 'translated', { kind: 'file', path: 'etc' });
    const report = await runPromises(dir, { mode: 'test', force: true });
    const messages = Object.fromEntries(report.results.map((r) => [r.title, r.failed ? r.message : 'ok']));
    assert.match(messages.garbage ?? '', /cannot read .*garbage.json: .*JSON/);
    assert.match(messages.typo ?? '', /unknown key for kind socket: prot/);
    assert.match(messages['no-kind'] ?? '', /"kind" must be one of socket, url, file, command/);
    assert.match(messages['bad-port'] ?? '', /"port" must be an integer from 1 to 65535/);
    assert.match(messages['bad-url'] ?? '', /must be http/);
    assert.match(messages['check-python'] ?? '', /Python plugin promises cannot run on this node/);
    assert.equal(messages.translated, 'ok');
    assert.equal(messages['only-anomaly'], undefined, 'test-less promise not run in test mode');
    const anomaly = await runPromises(dir, { mode: 'anomaly', force: true });
    assert.ok(anomaly.results.some((r) => r.title === 'only-anomaly'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('promises run concurrently within the bound, and a missing partition is a clear error', async () => {
  const dir = await partition();
  try {
    for (let i = 0; i < 6; i += 1)
      await legacy(
        dir,
        `p${i}`,
        `touch ${dir}/running.$$; ls ${dir} | grep -c '^running' ; sleep 0.3; rm ${dir}/running.$$`,
      );
    const report = await runPromises(dir, { mode: 'test', force: true, concurrency: 2 });
    assert.equal(report.ok, true);
    const seen = report.results.map((r) => Number(r.message));
    assert.ok(Math.max(...seen) <= 2, `at most 2 at once, saw ${seen.join(',')}`);
    await assert.rejects(
      runPromises(join(dir, 'nope'), { mode: 'test' }),
      (error: SlapError) => error.code === 'SLAP_ERR_NOT_FOUND' && /nope does not exist/.test(error.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('as root, subprocess promises run as the owner of the partition', async () => {
  assert.equal(process.getuid?.(), 0, 'this test must run as root');
  const dir = await partition();
  try {
    await legacy(dir, 'whoami', 'id -u; id -g');
    await chown(dir, 65534, 65534);
    const report = await runPromises(dir, { mode: 'test', force: true });
    assert.equal(byTitle(report.results, 'whoami').message, '65534\n65534');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('latest: the result of every promise of the partition, those of the other mode as stored', async () => {
  const dir = await partition();
  try {
    await declarative(dir, 'always', { kind: 'file', path: 'var/always' });
    await declarative(dir, 'only-test', { kind: 'file', path: 'var/missing', anomaly: false });
    await declarative(dir, 'only-anomaly', { kind: 'file', path: 'var/always', test: false });
    await mkdir(join(dir, 'var'));
    await writeFile(join(dir, 'var', 'always'), '');
    const at = Date.UTC(2026, 0, 2, 3, 4, 5, 600);
    const test = await runPromises(dir, { mode: 'test', force: true, now: () => at });
    assert.deepEqual(
      test.latest.map((r) => [r.title, r.failed, r.date]),
      [
        ['always', false, at],
        ['only-test', true, at],
      ],
      'the anomaly-only promise never ran: left out',
    );
    const later = at + 1000 * 3600;
    const anomaly = await runPromises(dir, { mode: 'anomaly', now: () => later });
    assert.deepEqual(
      anomaly.latest.map((r) => [r.title, r.failed, r.date]),
      [
        ['always', false, later],
        ['only-anomaly', false, later],
        // Its stored result, dated to the second as the result file says.
        ['only-test', true, Date.UTC(2026, 0, 2, 3, 4, 5)],
      ],
    );
    assert.match(byTitle(test.results, 'only-test').message, /var\/missing is not present/);
    assert.equal(
      anomaly.latest.find((r) => r.title === 'only-test')?.message,
      byTitle(test.results, 'only-test').message,
    );
    // A result file that is not one is left out (and does not break the run).
    await writeFile(join(dir, '.slapgrid', 'promise', 'result', 'only-test.status.json'), '{"result": 3}');
    const again = await runPromises(dir, { mode: 'anomaly', now: () => later });
    assert.deepEqual(
      again.latest.map((r) => r.title),
      ['always', 'only-anomaly'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
