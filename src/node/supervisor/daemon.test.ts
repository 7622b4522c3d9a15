import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { SlapError } from '../../core/errors.ts';
import { pidAlive, tempDir, waitFor, writeScript } from '../../testing/supervisor.ts';
import { SupervisorClient } from './client.ts';
import { startSupervisorDaemon } from './daemon.ts';
import { launchSupervisorDaemon } from './launch.ts';
import { supervisorPaths } from './paths.ts';
import type { SupervisorEvent } from './types.ts';

/** A raw request on the socket, to send what the client never would. */
function raw(
  socketPath: string,
  options: { method: string; path: string; body?: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: options.method, path: options.path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A PUT whose body is over the 4 MiB limit, on a raw socket: `declared` sends a Content-Length over
 * the limit and no body; `chunked` streams one chunk just over the limit and sends nothing more.
 * Resolves with everything the daemon answered, once it closes the connection.
 */
function oversized(socketPath: string, how: 'declared' | 'chunked'): Promise<string> {
  const limit = 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    const head = ['PUT /v1/groups/slappart1 HTTP/1.1', 'Host: sv', 'Content-Type: application/json'];
    if (how === 'declared') socket.write([...head, `Content-Length: ${limit + 1}`, '', ''].join('\r\n'));
    else {
      socket.write([...head, 'Transfer-Encoding: chunked', '', ''].join('\r\n'));
      socket.write(`${(limit + 1).toString(16)}\r\n${'x'.repeat(limit + 1)}\r\n`);
    }
  });
}

test('the daemon serves its API on a 0600 socket and survives bad requests', async (t) => {
  const dir = await tempDir();
  const socketPath = join(dir.path, 'sv.sock');
  const daemon = await startSupervisorDaemon({
    socketPath,
    stateDir: join(dir.path, 'state'),
    pidFile: join(dir.path, 'run', 'sv.pid'),
  });
  t.after(async () => {
    await daemon.close({ stopPrograms: true });
    await dir.remove();
  });
  assert.equal(daemon.state, 'running');
  assert.equal(statSync(socketPath).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir.path, 'run', 'sv.pid'), 'utf8').trim(), String(process.pid));
  const client = new SupervisorClient({ socketPath });
  assert.equal((await client.status()).pid, process.pid);

  const script = await writeScript(dir.path, 'hello', 'echo hello from the service; exec sleep 1000');
  assert.deepEqual(
    await client.updateGroup('slappart0', [
      { name: 'hello', command: script, autostart: false, startsecs: 0 },
    ]),
    { added: ['hello'], changed: [], removed: [] },
  );
  const info = await client.startProcess('slappart0:hello');
  assert.equal(info.state, 'RUNNING');
  const tail = await waitFor('log', async () => {
    const result = await client.tail('slappart0:hello');
    return result.data.includes('hello from the service') ? result : undefined;
  });
  assert.equal(tail.overflow, false);
  const events = await client.waitEvents(0);
  assert.deepEqual(
    events.events.flatMap((e) => (e.type === 'state' ? [e.to] : [])),
    ['STARTING', 'RUNNING'],
  );
  // A long poll answers as soon as an event comes.
  const waiting = client.waitEvents(events.last, { timeoutMs: 20_000 });
  const stopped = await client.stopProcess('slappart0:hello');
  assert.equal(stopped.state, 'STOPPED');
  const next = await waiting;
  assert.equal(next.stream, events.stream);
  assert.deepEqual(
    next.events.map((e) => (e.type === 'state' ? e.to : e.type)),
    ['STOPPING', 'STOPPED'].slice(0, next.events.length),
  );

  // Bad input: clear errors with the catalog's codes, and the daemon stays up.
  const cases: [{ method: string; path: string; body?: string }, number, string, RegExp][] = [
    [
      { method: 'PUT', path: '/v1/groups/slappart1', body: '{not json' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /not valid JSON/,
    ],
    [
      { method: 'PUT', path: '/v1/groups/slappart1', body: '[1]' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /JSON object/,
    ],
    [
      { method: 'PUT', path: '/v1/groups/slappart1', body: '{}' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /programs: required/,
    ],
    [
      { method: 'PUT', path: '/v1/groups/slappart1', body: '{"programs":[{"name":"x","command":7}]}' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /programs\[0\]\.command/,
    ],
    [
      { method: 'PUT', path: '/v1/groups/..%2Fx', body: '{"programs":[]}' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /invalid name/,
    ],
    [
      { method: 'POST', path: '/v1/processes/slappart0:nope/start' },
      404,
      'SLAP_ERR_NO_SUCH_PROCESS',
      /no such process/,
    ],
    [{ method: 'POST', path: '/v1/processes/slappart0:hello/stop' }, 409, 'SLAP_ERR_CONFLICT', /not running/],
    [
      { method: 'POST', path: '/v1/processes/nocolon/start' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /invalid process name/,
    ],
    [
      { method: 'POST', path: '/v1/processes/slappart0:hello/start', body: '{"wait":"yes"}' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /wait/,
    ],
    [
      { method: 'GET', path: '/v1/processes/slappart0:hello/log?bytes=-5' },
      400,
      'SLAP_ERR_INVALID_INPUT',
      /bytes/,
    ],
    [{ method: 'GET', path: '/v1/events?after=abc' }, 400, 'SLAP_ERR_INVALID_INPUT', /after/],
    [{ method: 'DELETE', path: '/v1/status' }, 405, 'SLAP_ERR_METHOD_NOT_ALLOWED', /not allowed/],
    [{ method: 'GET', path: '/v1/nothing' }, 404, 'SLAP_ERR_NOT_FOUND', /no route/],
    [{ method: 'GET', path: '/v1/processes/%E0%A4%A/log' }, 400, 'SLAP_ERR_INVALID_INPUT', /malformed URL/],
    [{ method: 'DELETE', path: '/v1/groups/slappart9' }, 404, 'SLAP_ERR_NO_SUCH_PROCESS', /no such process/],
  ];
  for (const [req, status, type, title] of cases) {
    const answer = await raw(socketPath, req);
    assert.equal(answer.status, status, `${req.method} ${req.path}`);
    assert.equal(answer.body.type, type, `${req.method} ${req.path}`);
    assert.equal(answer.body.status, status);
    assert.match(String(answer.body.title), title);
  }
  // Bodies over 4 MiB: refused whether their size is declared or only seen while reading.
  const declared = await oversized(socketPath, 'declared');
  assert.match(declared, /^HTTP\/1\.1 413 /);
  assert.match(declared, /"type":"SLAP_ERR_PAYLOAD_TOO_LARGE"/);
  const streamed = await oversized(socketPath, 'chunked');
  assert.match(streamed, /^HTTP\/1\.1 413 /);
  assert.match(streamed, /"type":"SLAP_ERR_PAYLOAD_TOO_LARGE"/);
  // The client maps the answers back to SlapErrors.
  await assert.rejects(client.startProcess('slappart0:nope'), (error: SlapError) => {
    assert.equal(error.code, 'SLAP_ERR_NO_SUCH_PROCESS');
    assert.equal(error.status, 404);
    return true;
  });
  assert.equal((await client.status()).state, 'running', 'still up');

  // A second daemon on the same socket is refused.
  await assert.rejects(
    startSupervisorDaemon({ socketPath, stateDir: join(dir.path, 'state2') }),
    (error: SlapError) =>
      error.code === 'SLAP_ERR_SUPERVISOR_ALREADY_RUNNING' && /pid \d+/.test(error.message),
  );
});

test('shutdown over the socket stops the programs, removes the socket and the pid file', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const socketPath = join(dir.path, 'sv.sock');
  const pidFile = join(dir.path, 'sv.pid');
  const daemon = await startSupervisorDaemon({ socketPath, stateDir: join(dir.path, 'state'), pidFile });
  const client = new SupervisorClient({ socketPath });
  await client.updateGroup('slappart0', [{ name: 's', command: '/bin/sleep', args: ['1000'], startsecs: 0 }]);
  const info = await waitFor('autostarted', async () => {
    const status = await client.status();
    return status.processes[0]?.state === 'RUNNING' ? status.processes[0] : undefined;
  });
  const poll = client.waitEvents(1000, { timeoutMs: 30_000 });
  await client.shutdown({ stopPrograms: true });
  await daemon.closed;
  assert.equal(daemon.state, 'stopped');
  await poll; // answered, not left hanging
  assert.ok(info.pid !== null && !pidAlive(info.pid));
  assert.ok(!existsSync(socketPath) && !existsSync(pidFile));
  await assert.rejects(client.status(), (error: SlapError) => {
    assert.equal(error.code, 'SLAP_ERR_SUPERVISOR_NOT_RUNNING');
    assert.equal(error.message, `supervisor is not running (socket ${socketPath})`);
    return true;
  });
});

test('socket paths over the sun_path limit are refused clearly; a stale socket is replaced', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const long = join(dir.path, 'x'.repeat(120), 'sv.sock');
  await assert.rejects(
    startSupervisorDaemon({ socketPath: long, stateDir: join(dir.path, 'state') }),
    (error: SlapError) => error.code === 'SLAP_ERR_CONFIG' && /over the 107-byte limit/.test(error.message),
  );
  await assert.rejects(
    launchSupervisorDaemon({ ...supervisorPaths(join(dir.path, 'y'.repeat(120))) }),
    /over the 107-byte limit/,
  );
  // A daemon killed without cleaning up leaves its socket file: the next one takes it over.
  const socketPath = join(dir.path, 'sv.sock');
  const first = await startSupervisorDaemon({ socketPath, stateDir: join(dir.path, 'state') });
  await first.close();
  const crashed = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(socketPath)})`,
  ]);
  await waitFor('stale socket', () => existsSync(socketPath));
  crashed.kill('SIGKILL');
  await new Promise((resolve) => crashed.once('exit', resolve));
  assert.ok(existsSync(socketPath), 'the socket file outlived its process');
  const second = await startSupervisorDaemon({ socketPath, stateDir: join(dir.path, 'state') });
  t.after(() => second.close());
  assert.equal((await new SupervisorClient({ socketPath }).status()).pid, process.pid);
});

test('kill -9 of the daemon: services keep running, the next daemon re-attaches and still sees exits', async (t) => {
  const dir = await tempDir();
  const paths = supervisorPaths(dir.path);
  const notifyLog = join(dir.path, 'bangs.jsonl');
  const notifier = await writeScript(dir.path, 'notify', `cat >> ${notifyLog}`);
  const client = new SupervisorClient({ socketPath: paths.socket });
  t.after(async () => {
    await client.shutdown({ stopPrograms: true }).catch(() => undefined);
    await dir.remove();
  });
  const first = await launchSupervisorDaemon({ ...paths, notifyCommand: notifier });
  assert.equal(first.alreadyRunning, false);
  assert.equal((await launchSupervisorDaemon(paths)).alreadyRunning, true);
  const service = await writeScript(dir.path, 'service', 'echo up; exec sleep 1000');
  await client.updateGroup('slappart0', [
    {
      name: 'web-on-watch',
      command: service,
      autostart: false,
      startsecs: 0,
      exitcodes: [],
      autorestart: false,
    },
    {
      name: 'db-on-watch',
      command: service,
      autostart: false,
      startsecs: 0,
      exitcodes: [],
      autorestart: false,
    },
  ]);
  await client.startGroup('slappart0');
  const before = (await client.status()).processes;
  t.after(() => {
    for (const p of before) if (p.pid !== null && pidAlive(p.pid)) process.kill(-p.pid, 'SIGKILL');
  });
  assert.deepEqual(
    before.map((p) => p.state),
    ['RUNNING', 'RUNNING'],
  );

  process.kill(first.pid, 'SIGKILL');
  // (The leader thread turns zombie before the others let go of the socket: wait for a refusal.)
  await waitFor('the socket refuses connections', () =>
    client.status().then(
      () => false,
      (error: SlapError) => error.code === 'SLAP_ERR_SUPERVISOR_NOT_RUNNING',
    ),
  );
  for (const p of before) assert.ok(p.pid !== null && pidAlive(p.pid), `${p.fullName} survived the daemon`);

  const second = await launchSupervisorDaemon({ ...paths, notifyCommand: notifier });
  assert.notEqual(second.pid, first.pid);
  const after = (await client.status()).processes;
  assert.deepEqual(
    after.map((p) => [p.fullName, p.state, p.pid, p.adopted]),
    before.map((p) => [p.fullName, 'RUNNING', p.pid, true]),
  );
  // The services kept logging to their files while no daemon was there.
  assert.match((await client.tail('slappart0:web-on-watch')).data, /up/);

  const events: SupervisorEvent[] = [];
  const abort = new AbortController();
  const watching = client.watchEvents((event) => void events.push(event), {
    signal: abort.signal,
    pollMs: 2000,
  });
  const web = after.find((p) => p.name === 'web-on-watch');
  assert.ok(web?.pid);
  process.kill(web.pid, 'SIGTERM');
  const bang = await waitFor('unexpected-exit event', () =>
    events.find((e) => e.type === 'unexpected-exit' && e.name === 'web-on-watch'),
  );
  abort.abort();
  await watching;
  assert.equal(bang.type === 'unexpected-exit' && bang.info.pid, web.pid);
  const line = await waitFor('notify command ran', () =>
    existsSync(notifyLog) ? readFileSync(notifyLog, 'utf8').trim() || undefined : undefined,
  );
  const notified = JSON.parse(line) as { group: string; program: string; state: string; pid: number };
  assert.deepEqual(
    [notified.group, notified.program, notified.state, notified.pid],
    ['slappart0', 'web-on-watch', 'EXITED', web.pid],
  );
  assert.equal((await client.status()).processes.find((p) => p.name === 'db-on-watch')?.state, 'RUNNING');
});
