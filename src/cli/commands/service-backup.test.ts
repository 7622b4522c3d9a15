/**
 * `slapos service backup|backups|restore|takeover` against a scripted master that answers the
 * routes' shapes (slapos-extensions.json): what the commands send, print, wait for, and how they
 * show refusals and answers that break the contract. service-resilient.test.ts runs them against a
 * real master.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { sendJson, startHttpServer, type TestHttpServer } from '../../testing/http-server.ts';

const env = isolatedClientEnv();
const REQUESTED_AT = 1_765_138_215.125; // 2025-12-07T20:10:15.125Z
const OLD = {
  backup_id: '20251207T200000000Z-0a0b',
  time: REQUESTED_AT - 615.125,
  computer_guid_list: ['COMP-2'],
};
const NEW = {
  backup_id: '20251207T201016500Z-c3d4',
  time: REQUESTED_AT + 1.375,
  computer_guid_list: ['COMP-2', 'COMP-3'],
};

/** What the scripted master answers, per path (a function: called per request with its body). */
type Script = Record<string, (body: Record<string, unknown>, response: ServerResponse) => void>;
let script: Script = {};
let server: TestHttpServer;

before(async () => {
  server = await startHttpServer((request, response) => {
    const path = request.url ?? '';
    if (path === '/slapos.get.v0.hateoas_url') return sendJson(response, 200, { hateoas_url: 'http://x/' });
    const answer = script[path];
    if (answer === undefined) return sendJson(response, 404, error(404, `No such path: ${path}`));
    answer(JSON.parse(request.body) as Record<string, unknown>, response);
  });
});
after(() => server.close());
beforeEach(() => {
  script = {};
  server.requests.length = 0;
});

function error(status: number, title: string): { status: number; type: string; title: string } {
  return { status, type: 'error', title };
}

function slapos(args: string[]): ReturnType<typeof runSlapos> {
  return runSlapos([...args, '--master-url', server.url], { env });
}

/** The bodies the commands sent to a path. */
function sent(path: string): unknown[] {
  return server.requests.filter((r) => r.url === path).map((r) => JSON.parse(r.body) as unknown);
}

test('service backup asks for a backup and says when; --json gives requested_at', async () => {
  script['/slapos.post.ext.instance_backup'] = (_body, response) =>
    sendJson(response, 200, { requested_at: REQUESTED_AT });
  const run = await slapos(['service', 'backup', 'kv']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'Backup of kv requested at 2025-12-07T20:10:15.125Z.\n');
  assert.deepEqual(sent('/slapos.post.ext.instance_backup'), [{ title: 'kv' }]);
  assert.deepEqual(sent('/slapos.get.ext.instance_backup_list'), [], 'no --wait: no polling');
  const json = await slapos(['service', 'backup', 'kv', '--json']);
  assert.deepEqual(JSON.parse(json.stdout), { requested_at: REQUESTED_AT });
});

test('service backup --wait polls until a backup that started after the request is listed', async () => {
  script['/slapos.post.ext.instance_backup'] = (_body, response) =>
    sendJson(response, 200, { requested_at: REQUESTED_AT });
  let polls = 0;
  script['/slapos.get.ext.instance_backup_list'] = (_body, response) => {
    polls++;
    // An older backup first (it does not answer the request), a master that cannot answer for a
    // moment, then the new backup above the old one.
    if (polls === 2) return sendJson(response, 503, error(503, 'restarting'));
    sendJson(response, 200, { backup_list: polls < 3 ? [OLD] : [NEW, OLD] });
  };
  const run = await slapos(['service', 'backup', 'kv', '--wait', '--poll-interval', '0.02']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    'Backup 20251207T201016500Z-c3d4 taken at 2025-12-07T20:10:16.500Z, held by COMP-2, COMP-3.\n',
  );
  assert.match(
    run.stderr,
    /^Backup of kv requested at 2025-12-07T20:10:15\.125Z; waiting for it \(at most 600 s\)…\n/,
  );
  assert.match(run.stderr, /\nwarning: restarting; trying again\n/);
  assert.equal(polls, 3);
  assert.deepEqual(sent('/slapos.get.ext.instance_backup_list'), [
    { title: 'kv' },
    { title: 'kv' },
    { title: 'kv' },
  ]);

  polls = 0;
  const json = await slapos(['service', 'backup', 'kv', '--wait', '--poll-interval', '0.02', '--json']);
  assert.deepEqual(JSON.parse(json.stdout), { requested_at: REQUESTED_AT, backup: NEW });
});

test('service backup --wait gives up at --timeout with a clear error (the request stays)', async () => {
  script['/slapos.post.ext.instance_backup'] = (_body, response) =>
    sendJson(response, 200, { requested_at: REQUESTED_AT });
  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [OLD] });
  const run = await slapos([
    'service',
    'backup',
    'kv',
    '--wait',
    '--timeout',
    '0.2',
    '--poll-interval',
    '0.05',
  ]);
  assert.equal(run.code, 69);
  assert.equal(run.stdout, '');
  assert.match(
    run.stderr,
    /slapos: error: no backup of kv taken after 2025-12-07T20:10:15\.125Z was listed within 0\.2 s\nhint: the main's node/,
  );
  assert.ok(sent('/slapos.get.ext.instance_backup_list').length >= 2, 'it polled');
  const bad = await slapos(['service', 'backup', 'kv', '--wait', '--timeout', '-1']);
  assert.equal(bad.code, 5);
  assert.match(bad.stderr, /expected a number of seconds/);
});

test('service backups: a table newest first, one line per backup whatever the node names hold; --json', async () => {
  const hostile = { ...OLD, computer_guid_list: ['COMP-\n2', 'COMP-\u20283'] };
  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [NEW, hostile] });
  const run = await slapos(['service', 'backups', 'kv']);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split('\n');
  assert.deepEqual(lines.slice(0, 2), [
    'BACKUP ID                 TIME                      NODES',
    '20251207T201016500Z-c3d4  2025-12-07T20:10:16.500Z  COMP-2, COMP-3',
  ]);
  assert.equal(lines[2]?.startsWith('20251207T200000000Z-0a0b  2025-12-07T20:00:00.000Z  COMP-'), true);
  // The names' line breaks stay inside the NODES column: no line starts like a row of its own.
  for (const line of lines.slice(3, -1)) assert.match(line, /^ {52}\S/);
  const json = await slapos(['service', 'backups', 'kv', '--json']);
  assert.deepEqual(JSON.parse(json.stdout), { backup_list: [NEW, hostile] });

  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [] });
  assert.equal((await slapos(['service', 'backups', 'kv'])).stdout, 'No backup of kv yet.\n');
});

test('service restore prints the request id; --into names the service restored into', async () => {
  script['/slapos.post.ext.instance_restore'] = (_body, response) =>
    sendJson(response, 200, { request_id: 'restore-7f3a' });
  const latest = await slapos(['service', 'restore', 'kv']);
  assert.equal(latest.code, 0, latest.stderr);
  assert.equal(latest.stdout, 'restore-7f3a\n');
  assert.match(latest.stderr, /Restore of the latest backup of kv requested; its outcome will show/);
  const chosen = await slapos(['service', 'restore', 'kv', '--backup', OLD.backup_id, '--json']);
  assert.deepEqual(JSON.parse(chosen.stdout), { request_id: 'restore-7f3a' });
  const into = await slapos(['service', 'restore', 'kv', '--into', 'kv-copy']);
  assert.equal(into.code, 0, into.stderr);
  assert.equal(into.stdout, 'restore-7f3a\n');
  assert.match(
    into.stderr,
    /the latest backup of kv into kv-copy requested; .*`slapos service backups "kv-copy"`/,
  );
  assert.deepEqual(sent('/slapos.post.ext.instance_restore'), [
    { title: 'kv', backup_id: null },
    { title: 'kv', backup_id: OLD.backup_id },
    { title: 'kv', backup_id: null, into: 'kv-copy' },
  ]);
  assert.deepEqual(sent('/slapos.get.ext.instance_backup_list'), [], 'no --wait: no polling');
});

/** A restore status as the master reports it (slapos-extensions.json's RestoreStatus). */
function restoreStatus(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    request_id: 'restore-7f3a',
    state: 'pending',
    backup_id: null,
    restored_backup_id: null,
    source: 'kv',
    message: '',
    requested_at: REQUESTED_AT,
    finished_at: null,
    ...overrides,
  };
}

const DONE = restoreStatus({
  state: 'done',
  restored_backup_id: NEW.backup_id,
  message: `restored ${NEW.backup_id}; checked: check-kv: 2 records, seq increasing`,
  finished_at: REQUESTED_AT + 9.5,
});

/** The scripted master restores: `statuses` are the restore status of each poll (the last repeats). */
function scriptRestore(statuses: ReadonlyArray<Record<string, unknown> | 'unavailable'>): { polls: number } {
  const counter = { polls: 0 };
  script['/slapos.post.ext.instance_restore'] = (_body, response) =>
    sendJson(response, 200, { request_id: 'restore-7f3a' });
  script['/slapos.get.ext.instance_backup_list'] = (_body, response) => {
    const status = statuses[Math.min(counter.polls++, statuses.length - 1)];
    if (status === 'unavailable') return sendJson(response, 503, error(503, 'restarting'));
    sendJson(response, 200, { backup_list: [NEW], restore: status });
  };
  return counter;
}

function restoreWait(extra: string[]): ReturnType<typeof slapos> {
  return slapos([
    'service',
    'restore',
    'kv',
    '--into',
    'kv-copy',
    '--wait',
    '--poll-interval',
    '0.02',
    ...extra,
  ]);
}

test('service restore --wait polls the service restored into until done: the node message, exit 0', async () => {
  const pending = restoreStatus();
  const counter = scriptRestore([pending, 'unavailable', pending, DONE]);
  const run = await restoreWait([]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `${String(DONE.message)}\n`);
  assert.match(
    run.stderr,
    /^Restore of the latest backup of kv into kv-copy requested \(restore-7f3a\); waiting for its outcome \(at most 600 s\)…\n/,
  );
  assert.match(run.stderr, /\nwarning: restarting; trying again\n/);
  assert.equal(counter.polls, 4);
  assert.deepEqual(sent('/slapos.get.ext.instance_backup_list'), [
    { title: 'kv-copy' },
    { title: 'kv-copy' },
    { title: 'kv-copy' },
    { title: 'kv-copy' },
  ]);

  scriptRestore([pending, DONE]);
  const json = await restoreWait(['--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), DONE);

  // Without --into the request and the polls are on the service itself.
  server.requests.length = 0;
  scriptRestore([DONE]);
  const plain = await slapos(['service', 'restore', 'kv', '--wait', '--backup', NEW.backup_id]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(sent('/slapos.post.ext.instance_restore'), [{ title: 'kv', backup_id: NEW.backup_id }]);
  assert.deepEqual(sent('/slapos.get.ext.instance_backup_list'), [{ title: 'kv' }]);
});

test('service restore --wait: a failed restore is exit 1 with the node message on one line', async () => {
  const failed = restoreStatus({
    state: 'failed',
    message: 'check-kv failed:\nseq not increasing\u2028\u001b[31m',
    finished_at: REQUESTED_AT + 4,
  });
  scriptRestore([restoreStatus(), failed]);
  const run = await restoreWait([]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.match(
    run.stderr,
    /\nslapos: error: check-kv failed: seq not increasing \\u001b\[31m\nhint: `slapos service backups "kv"` lists the backups/,
  );

  scriptRestore([failed]);
  const json = await restoreWait(['--json']);
  assert.equal(json.code, 1);
  assert.deepEqual(JSON.parse(json.stdout), failed, '--json prints the status, failed or not');
  assert.match(json.stderr, /slapos: error: check-kv failed/);
});

test('service restore --wait: superseded by a newer request is exit 1; no outcome in time is exit 69', async () => {
  scriptRestore([restoreStatus(), restoreStatus({ request_id: 'restore-9b1c' })]);
  const superseded = await restoreWait([]);
  assert.equal(superseded.code, 1);
  assert.equal(superseded.stdout, '');
  assert.match(
    superseded.stderr,
    /slapos: error: the restore restore-7f3a of kv-copy was superseded by restore-9b1c\n/,
  );

  // A newer request that already finished supersedes too: only this request's outcome answers.
  scriptRestore([{ ...DONE, request_id: 'restore-9b1c' }]);
  assert.equal((await restoreWait([])).code, 1);

  server.requests.length = 0;
  scriptRestore([restoreStatus()]);
  const timeout = await restoreWait(['--timeout', '0.2', '--poll-interval', '0.05']);
  assert.equal(timeout.code, 69);
  assert.equal(timeout.stdout, '');
  assert.match(
    timeout.stderr,
    /slapos: error: the restore restore-7f3a of kv-copy did not finish within 0\.2 s\nhint: .*the request stays/,
  );
  assert.ok(sent('/slapos.get.ext.instance_backup_list').length >= 2, 'it polled');

  // A master that does not report restores: said at once, not waited for until the timeout.
  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [NEW] });
  const older = await restoreWait([]);
  assert.equal(older.code, 2);
  assert.match(older.stderr, /the master does not report the outcome of restores/);
});

test('service backups ends with the last restore; --json adds it only when the master reports it', async () => {
  const hostile = restoreStatus({
    state: 'failed',
    backup_id: OLD.backup_id,
    source: 'kv\n(evil)',
    message: 'restic:\r\nFatal\u0085wrong password',
    finished_at: REQUESTED_AT + 4,
  });
  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [NEW], restore: hostile });
  const run = await slapos(['service', 'backups', 'kv-copy']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.stdout.split('\n'), [
    'BACKUP ID                 TIME                      NODES',
    '20251207T201016500Z-c3d4  2025-12-07T20:10:16.500Z  COMP-2, COMP-3',
    'last restore: failed restore-7f3a: backup 20251207T200000000Z-0a0b from kv (evil), ' +
      'requested 2025-12-07T20:10:15.125Z, finished 2025-12-07T20:10:19.125Z: restic: Fatal wrong password',
    '',
  ]);
  const json = await slapos(['service', 'backups', 'kv-copy', '--json']);
  assert.deepEqual(JSON.parse(json.stdout), { backup_list: [NEW], restore: hostile });

  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [], restore: restoreStatus() });
  assert.equal(
    (await slapos(['service', 'backups', 'kv-copy'])).stdout,
    'No backup of kv-copy yet.\n' +
      'last restore: pending restore-7f3a: the latest backup from kv, requested 2025-12-07T20:10:15.125Z\n',
  );
  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [NEW], restore: null });
  const none = await slapos(['service', 'backups', 'kv', '--json']);
  assert.deepEqual(JSON.parse(none.stdout), { backup_list: [NEW], restore: null });
  assert.doesNotMatch((await slapos(['service', 'backups', 'kv'])).stdout, /last restore/);
});

test('service takeover names the clone or lets the master choose; a refusal is shown as the master says it', async () => {
  script['/slapos.post.ext.instance_takeover'] = (_body, response) =>
    sendJson(response, 200, { title: 'kv', compute_node_id: 'COMP-3', partition_id: 'slappart1', epoch: 2 });
  const run = await slapos(['service', 'takeover', 'kv', '--clone', 'kv (clone 2)']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'kv now runs on COMP-3 slappart1 (epoch 2); the former main is fenced.\n');
  const json = await slapos(['service', 'takeover', 'kv', '--json']);
  assert.deepEqual(JSON.parse(json.stdout), {
    title: 'kv',
    compute_node_id: 'COMP-3',
    partition_id: 'slappart1',
    epoch: 2,
  });
  assert.deepEqual(sent('/slapos.post.ext.instance_takeover'), [
    { title: 'kv', clone: 'kv (clone 2)' },
    { title: 'kv', clone: null },
  ]);

  script['/slapos.post.ext.instance_takeover'] = (_body, response) =>
    sendJson(response, 409, error(409, 'no clone can take over (none alive with a restored backup)'));
  const refused = await slapos(['service', 'takeover', 'kv']);
  assert.equal(refused.code, 1);
  assert.equal(refused.stdout, '');
  assert.match(
    refused.stderr,
    /^slapos: error: no clone can take over \(none alive with a restored backup\)\n/,
  );
});

test('an unknown service, a master without the routes, an answer off the contract: messages, no stack trace', async () => {
  const unknown = (_body: Record<string, unknown>, response: ServerResponse): void =>
    sendJson(response, 403, error(403, 'No instance tree nothing found.'));
  for (const path of ['backup', 'backup_list', 'restore', 'takeover']) {
    script[`/slapos.${path === 'backup_list' ? 'get' : 'post'}.ext.instance_${path}`] = unknown;
  }
  for (const command of ['backup', 'backups', 'restore', 'takeover']) {
    const run = await slapos(['service', command, 'nothing']);
    assert.equal(run.code, 1, command);
    assert.match(
      run.stderr,
      /^slapos: error: Instance nothing does not exist\.\nhint: `slapos service list`/,
      command,
    );
  }

  script = {};
  const lacking = await slapos(['service', 'backups', 'kv']);
  assert.equal(lacking.code, 1);
  assert.match(lacking.stderr, /has no backups or resilient instances\nhint: /);

  script['/slapos.get.ext.instance_backup_list'] = (_body, response) =>
    sendJson(response, 200, { backup_list: [{ backup_id: NEW.backup_id, time: '1' }] });
  const off = await slapos(['service', 'backups', 'kv']);
  assert.equal(off.code, 69);
  assert.match(
    off.stderr,
    /does not follow the JSON API: answer\/backup_list\/0 must have required property 'computer_guid_list'/,
  );
  assert.doesNotMatch(off.stderr, /\n +at /, 'no stack trace');
});

test('every command has --help', async () => {
  const wait = ['--wait', '--timeout <seconds>', '--poll-interval <seconds>', '--json'];
  for (const [command, options] of [
    ['backup', wait],
    ['backups', ['--json']],
    ['restore', ['--backup <id>', '--into <name>', ...wait]],
    ['takeover', ['--clone <title>', '--json']],
  ] as const) {
    const run = await runSlapos(['service', command, '--help'], { env });
    assert.equal(run.code, 0, command);
    assert.match(run.stdout, new RegExp(`Usage: slapos service ${command} \\[options\\] <reference>`));
    for (const option of options) assert.ok(run.stdout.includes(option), `${command} --help shows ${option}`);
  }
});
