import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SlapError } from '../../core/errors.ts';
import { pidAlive, tempDir, waitFor, writeScript } from '../../testing/supervisor.ts';
import { createSupervisor, type Supervisor, type SupervisorOptions } from './supervisor.ts';
import type { ProcessInfo, ProgramSpec, SupervisorEvent, UnexpectedExitInfo } from './types.ts';

const FAST = { backoffUnitMs: 100, killGraceMs: 5000, stopPollMs: 50 };

interface Harness {
  dir: string;
  supervisor: Supervisor;
  events: SupervisorEvent[];
  /** State changes (`state TO`) and warnings (`warn MESSAGE`), in the order they happened. */
  log: string[];
  notified: { group: string; program: string; info: UnexpectedExitInfo }[];
  open(extra?: Partial<SupervisorOptions>): Promise<Supervisor>;
  info(fullName: string): Promise<ProcessInfo>;
  cleanup(): Promise<void>;
}

async function harness(t: { after: (fn: () => Promise<void>) => void }): Promise<Harness> {
  const dir = await tempDir();
  const h: Harness = {
    dir: dir.path,
    supervisor: undefined as unknown as Supervisor,
    events: [],
    log: [],
    notified: [],
    async open(extra = {}) {
      h.supervisor = await createSupervisor({
        stateDir: join(dir.path, 'state'),
        timing: FAST,
        pollIntervalMs: 100,
        logger: {
          debug: () => undefined,
          info: () => undefined,
          warn: (_object, message) => void h.log.push(`warn ${message}`),
          error: (_object, message) => void h.log.push(`error ${message}`),
        },
        onUnexpectedExit: (group, program, info) => {
          h.notified.push({ group, program, info });
        },
        ...extra,
      });
      h.supervisor.subscribe((event) => {
        h.events.push(event);
        if (event.type === 'state') h.log.push(`state ${event.to}`);
      });
      return h.supervisor;
    },
    async info(fullName) {
      const status = await h.supervisor.status();
      const info = status.processes.find((p) => p.fullName === fullName);
      assert.ok(info, `no process ${fullName}`);
      return info;
    },
    async cleanup() {
      await h.supervisor.close({ stopPrograms: true });
      await dir.remove();
    },
  };
  await h.open();
  t.after(() => h.cleanup());
  return h;
}

function transitions(events: SupervisorEvent[], name: string): string[] {
  return events.flatMap((event) => (event.type === 'state' && event.name === name ? [event.to] : []));
}

const sleeper = (name: string, extra: Partial<ProgramSpec> = {}): ProgramSpec => ({
  name,
  command: '/bin/sleep',
  args: ['1000'],
  autostart: false,
  ...extra,
});

/** Lets pending I/O callbacks and promise jobs run (not a timer: those are mocked in some tests). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('a long runner goes STARTING then RUNNING once up for startsecs', async (t) => {
  const h = await harness(t);
  await h.supervisor.updateGroup('slappart0', [sleeper('runner', { startsecs: 5 })]);
  assert.equal((await h.info('slappart0:runner')).state, 'STOPPED');
  assert.equal((await h.info('slappart0:runner')).description, 'Not started');
  // The startsecs wait runs on mocked timers: RUNNING comes once they have passed, not before.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let answered = false;
  const starting = h.supervisor.startProcess('slappart0:runner').finally(() => (answered = true));
  await settle();
  assert.deepEqual(transitions(h.events, 'runner'), ['STARTING']);
  t.mock.timers.tick(4_999);
  await settle();
  assert.equal((await h.info('slappart0:runner')).state, 'STARTING');
  assert.equal(answered, false, 'start waits for startsecs');
  t.mock.timers.tick(1);
  const info = await starting;
  t.mock.timers.reset();
  assert.equal(info.state, 'RUNNING');
  assert.match(info.description, /^pid \d+, uptime 0:00:0\d$/);
  assert.ok(info.pid !== null && pidAlive(info.pid));
  assert.deepEqual(transitions(h.events, 'runner'), ['STARTING', 'RUNNING']);
  await assert.rejects(h.supervisor.startProcess('slappart0:runner'), (error: SlapError) => {
    assert.equal(error.code, 'SLAP_ERR_CONFLICT');
    assert.equal(error.details?.reason, 'already started');
    return true;
  });
  const stopped = await h.supervisor.stopProcess('slappart0:runner');
  assert.equal(stopped.state, 'STOPPED');
  assert.ok(!pidAlive(info.pid));
  await assert.rejects(h.supervisor.stopProcess('slappart0:runner'), /not running/);
});

test('a program exiting too quickly goes BACKOFF, retries startretries times, then FATAL', async (t) => {
  const h = await harness(t);
  const script = await writeScript(h.dir, 'crash', 'echo "boom on stderr" >&2; exit 3');
  await h.supervisor.updateGroup('slappart1', [
    { name: 'crash', command: script, autostart: false, startsecs: 1, startretries: 2 },
  ]);
  await assert.rejects(h.supervisor.startProcess('slappart1:crash'), (error: SlapError) => {
    assert.equal(error.code, 'SLAP_ERR_PROCESS_START_FAILED');
    assert.equal(error.details?.reason, 'abnormal termination');
    return true;
  });
  await waitFor('FATAL', async () => (await h.info('slappart1:crash')).state === 'FATAL');
  assert.deepEqual(transitions(h.events, 'crash'), [
    'STARTING',
    'BACKOFF',
    'STARTING',
    'BACKOFF',
    'STARTING',
    'BACKOFF',
    'FATAL',
  ]);
  const info = await h.info('slappart1:crash');
  assert.equal(info.description, 'Exited too quickly (process log may have details)');
  await waitFor('notifier', () => h.notified.length > 0);
  const [bang] = h.notified;
  assert.equal(bang?.group, 'slappart1');
  assert.equal(bang?.program, 'crash');
  assert.equal(bang?.info.state, 'FATAL');
  assert.match(bang?.info.message ?? '', /gave up after 3 failed starts/);
  assert.match(bang?.info.logTail ?? '', /boom on stderr/);
  // FATAL is left only by an explicit start.
  await assert.rejects(h.supervisor.stopProcess('slappart1:crash'), /not running/);
});

test('a missing executable is a spawn error, then FATAL', async (t) => {
  const h = await harness(t);
  await h.supervisor.updateGroup('slappart2', [
    { name: 'ghost', command: join(h.dir, 'no-such-wrapper'), autostart: false, startretries: 1 },
  ]);
  await assert.rejects(h.supervisor.startProcess('slappart2:ghost'), (error: SlapError) => {
    assert.equal(error.details?.reason, 'spawn error');
    assert.match(error.message, /ENOENT/);
    return true;
  });
  await waitFor('FATAL', async () => (await h.info('slappart2:ghost')).state === 'FATAL');
  assert.match((await h.info('slappart2:ghost')).description, /spawn error: .*ENOENT/);
});

test('stop: a group ignoring the stop signal is SIGKILLed after stopwaitsecs, child and grandchild', async (t) => {
  const h = await harness(t);
  const pidFile = join(h.dir, 'grandchild.pid');
  const script = await writeScript(
    h.dir,
    'stubborn',
    [
      'trap "" TERM',
      `sh -c 'trap "" TERM; echo $$ > ${pidFile}; while :; do sleep 0.2; done' &`,
      'while :; do sleep 0.2; done',
    ].join('\n'),
  );
  await h.supervisor.updateGroup('slappart3', [
    { name: 'stubborn', command: script, autostart: false, startsecs: 0, stopwaitsecs: 1 },
  ]);
  const info = await h.supervisor.startProcess('slappart3:stubborn');
  const grandchild = await waitFor('grandchild pid', () =>
    existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || undefined : undefined,
  );
  assert.ok(info.pid !== null && pidAlive(info.pid) && pidAlive(grandchild));
  const stopped = await h.supervisor.stopProcess('slappart3:stubborn');
  // SIGTERM first (STOPPING), ignored until the deadline passed, then SIGKILL to the group.
  assert.deepEqual(
    h.log.filter((entry) => entry.startsWith('state ') || entry.startsWith('warn ')),
    [
      'state STARTING',
      'state RUNNING',
      'state STOPPING',
      'warn stop deadline passed: SIGKILL to the group',
      'state STOPPED',
    ],
  );
  assert.equal(stopped.state, 'STOPPED');
  assert.equal(stopped.exitSignal, 'SIGKILL');
  assert.ok(!pidAlive(info.pid), 'the leader is gone');
  assert.ok(!pidAlive(grandchild), 'the grandchild is gone too');
  assert.deepEqual(transitions(h.events, 'stubborn'), ['STARTING', 'RUNNING', 'STOPPING', 'STOPPED']);
});

test('stop waits for the whole group: a grandchild outliving the leader is signalled too', async (t) => {
  const h = await harness(t);
  const pidFile = join(h.dir, 'worker.pid');
  // The leader exits on TERM at once; its worker takes a moment to exit after its own TERM.
  const script = await writeScript(
    h.dir,
    'leader',
    [
      `sh -c 'trap "sleep 0.5; exit 0" TERM; echo $$ > ${pidFile}; while :; do sleep 0.1; done' &`,
      'while :; do sleep 0.1; done',
    ].join('\n'),
  );
  await h.supervisor.updateGroup('slappart3', [
    { name: 'leader', command: script, autostart: false, startsecs: 0, stopwaitsecs: 30 },
  ]);
  await h.supervisor.startProcess('slappart3:leader');
  const worker = await waitFor('worker pid', () =>
    existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || undefined : undefined,
  );
  await h.supervisor.stopProcess('slappart3:leader');
  assert.ok(!pidAlive(worker), 'STOPPED only once the worker is gone');
});

test('autorestart: a service that keeps exiting is restarted with growing delays, each exit notified', async (t) => {
  const h = await harness(t);
  const script = await writeScript(h.dir, 'flaky', 'echo started; sleep 0.1; exit 1');
  await h.supervisor.updateGroup('slappart4', [
    {
      name: 'flaky-on-watch',
      command: script,
      autostart: false,
      startsecs: 0,
      autorestart: true,
      exitcodes: [],
    },
  ]);
  await h.supervisor.startProcess('slappart4:flaky-on-watch');
  const spawnTimes = () =>
    h.events
      .filter((e) => e.type === 'state' && e.name === 'flaky-on-watch' && e.to === 'STARTING')
      .map((e) => e.time);
  const times = await waitFor('four starts', () => (spawnTimes().length >= 4 ? spawnTimes() : undefined));
  const gaps = times.slice(1).map((time, index) => time - (times[index] ?? 0));
  // Each run lasts ≥ 100 ms; restart delays are 0, 100, 200 ms (unit 100 ms).
  assert.ok((gaps[1] ?? 0) >= 100 + 100 - 20, `second restart delayed: ${gaps.join(',')}`);
  assert.ok((gaps[2] ?? 0) >= 100 + 200 - 20, `third restart delayed more: ${gaps.join(',')}`);
  assert.ok(h.notified.length >= 2);
  assert.equal(h.notified[0]?.info.state, 'EXITED');
  assert.equal(h.notified[0]?.info.exitCode, 1);
  assert.match(h.notified[0]?.info.message ?? '', /exited \(exit status 1\)/);
  // Whatever the moment (running, or exited with a restart pending), a stop ends the cycle.
  const info = await h.supervisor.stopProcess('slappart4:flaky-on-watch');
  assert.equal(info.state, 'STOPPED');
  const count = spawnTimes().length;
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(spawnTimes().length, count, 'no restart after the stop');
});

test('expected exits are not notified; with exitcodes [] even exit 0 is (a SlapOS service)', async (t) => {
  const h = await harness(t);
  const script = await writeScript(h.dir, 'once', 'echo done; exit 0');
  await h.supervisor.updateGroup('slappart5', [
    { name: 'run-once', command: script, autostart: false, startsecs: 0, autorestart: false },
    {
      name: 'svc-on-watch',
      command: script,
      autostart: false,
      startsecs: 0,
      autorestart: false,
      exitcodes: [],
    },
  ]);
  await h.supervisor.startProcess('slappart5:run-once');
  await h.supervisor.startProcess('slappart5:svc-on-watch');
  await waitFor('both EXITED', async () => {
    const { processes } = await h.supervisor.status();
    return processes.every((p) => p.state === 'EXITED');
  });
  await waitFor('notification', () => h.notified.length > 0);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(
    h.notified.map((n) => n.program),
    ['svc-on-watch'],
  );
  const expected = Object.fromEntries(
    h.events.flatMap((e) => (e.type === 'state' && e.to === 'EXITED' ? [[e.name, e.expected]] : [])),
  );
  assert.deepEqual(expected, { 'run-once': true, 'svc-on-watch': false });
  assert.match((await h.info('slappart5:run-once')).description, /\(exit status 0\)$/);
});

test('logs: stdout and stderr in one file, tail with offsets, rotation at the size cap', async (t) => {
  const h = await harness(t);
  await h.supervisor.close({ stopPrograms: true });
  await h.open({ logCheckIntervalMs: 100 });
  const script = await writeScript(
    h.dir,
    'chatty',
    'echo out-line; echo err-line >&2; i=0; while [ $i -lt 100000 ]; do echo "line $i 0123456789012345678901234567890123456789"; i=$((i+1)); sleep 0.005; done',
  );
  const logFile = join(h.dir, 'logs', 'chatty.log');
  await h.supervisor.updateGroup('slappart6', [
    {
      name: 'chatty',
      command: script,
      autostart: false,
      startsecs: 0,
      logFile,
      logMaxBytes: 4096,
      logBackups: 2,
    },
  ]);
  await h.supervisor.startProcess('slappart6:chatty');
  const first = await waitFor('output', async () => {
    const tail = await h.supervisor.tail('slappart6:chatty', { bytes: 100000 });
    return tail.data.includes('err-line') ? tail : undefined;
  });
  assert.match(first.data, /out-line\nerr-line\n/);
  assert.equal(statSync(logFile).mode & 0o777, 0o600);
  const small = await h.supervisor.tail('slappart6:chatty', { bytes: 10 });
  assert.ok(small.data.length <= 10);
  await waitFor('rotation', () => existsSync(`${logFile}.1`) && existsSync(`${logFile}.2`));
  assert.ok(statSync(`${logFile}.1`).size > 4096);
  assert.ok(statSync(logFile).size < 64 * 1024, 'the live log stays near its cap');
  // Following: from an offset, only what came after (or overflow when rotated meanwhile).
  const now = await h.supervisor.tail('slappart6:chatty', { bytes: 100 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const next = await h.supervisor.tail('slappart6:chatty', { bytes: 100000, offset: now.offset });
  assert.ok(next.overflow || next.data.startsWith('line ') || next.data.length === 0);
  await assert.rejects(h.supervisor.tail('slappart6:chatty', { bytes: 0 }), /bytes: must be/);
  await assert.rejects(h.supervisor.tail('slappart6:nope'), /no such process: slappart6:nope/);
});

test('updates of different groups run beside each other: a slow stop in one group holds no other', async (t) => {
  const h = await harness(t);
  const script = await writeScript(
    h.dir,
    'stubborn',
    ['trap "" TERM', 'while :; do sleep 0.2; done'].join('\n'),
  );
  const stubborn = (args: string[]): ProgramSpec => ({
    name: 'stubborn',
    command: script,
    args,
    autostart: false,
    startsecs: 0,
    stopwaitsecs: 10,
  });
  await h.supervisor.updateGroup('slappart0', [stubborn([])]);
  await h.supervisor.startProcess('slappart0:stubborn');
  const done: string[] = [];
  // Changed while running: its process must stop first, and ignores SIGTERM until its deadline.
  const slow = h.supervisor
    .updateGroup('slappart0', [stubborn(['changed'])])
    .then(() => done.push('slappart0'));
  await waitFor(
    'the stop under way',
    async () => (await h.info('slappart0:stubborn')).state === 'STOPPING' || undefined,
  );
  await h.supervisor.updateGroup('slappart1', [sleeper('other')]);
  done.push('slappart1');
  assert.deepEqual(done, ['slappart1'], 'the other group was updated while the first one waited');
  await slow;
  assert.deepEqual(done, ['slappart1', 'slappart0']);
});

test('updates of many groups at once are all declared in programs.json', async (t) => {
  const h = await harness(t);
  const groups = Array.from({ length: 12 }, (_, index) => `slappart${index}`);
  await Promise.all(groups.map((group) => h.supervisor.updateGroup(group, [sleeper('s')])));
  const programsPath = join(h.dir, 'state', 'programs.json');
  const declared = JSON.parse(readFileSync(programsPath, 'utf8')) as { groups: Record<string, unknown[]> };
  assert.deepEqual(Object.keys(declared.groups).sort(), [...groups].sort());
  await Promise.all(groups.slice(0, 6).map((group) => h.supervisor.removeGroup(group)));
  const after = JSON.parse(readFileSync(programsPath, 'utf8')) as { groups: Record<string, unknown[]> };
  assert.deepEqual(Object.keys(after.groups).sort(), groups.slice(6).sort());
  // A new supervisor on the same state knows exactly those.
  await h.supervisor.close();
  await h.open();
  assert.deepEqual(h.supervisor.groupNames(), groups.slice(6).sort());
});

test('updateGroup adds, restarts changed and removes missing programs; removeGroup stops all', async (t) => {
  const h = await harness(t);
  const first = await h.supervisor.updateGroup('slappart7', [
    sleeper('keep', { autostart: true, startsecs: 0 }),
    sleeper('change', { autostart: true, startsecs: 0 }),
    sleeper('drop', { autostart: true, startsecs: 0 }),
  ]);
  assert.deepEqual(first, { added: ['keep', 'change', 'drop'], changed: [], removed: [] });
  const running = await waitFor('autostarted', async () => {
    const { processes } = await h.supervisor.status();
    return processes.every((p) => p.state === 'RUNNING') ? processes : undefined;
  });
  const pid = (name: string) => running.find((p) => p.name === name)?.pid ?? -1;
  const again = await h.supervisor.updateGroup('slappart7', [
    sleeper('keep', { autostart: true, startsecs: 0 }),
    sleeper('change', { autostart: true, startsecs: 0, args: ['999'] }),
    sleeper('drop', { autostart: true, startsecs: 0 }),
  ]);
  assert.deepEqual(again, { added: [], changed: ['change'], removed: [] });
  const second = await h.supervisor.updateGroup('slappart7', [
    sleeper('keep', { autostart: true, startsecs: 0 }),
    sleeper('change', { autostart: true, startsecs: 0, args: ['999'] }),
    sleeper('new', { startsecs: 0 }),
  ]);
  assert.deepEqual(second, { added: ['new'], changed: [], removed: ['drop'] });
  const after = await waitFor('restarted', async () => {
    const { processes } = await h.supervisor.status();
    const change = processes.find((p) => p.name === 'change');
    return change?.state === 'RUNNING' ? processes : undefined;
  });
  assert.deepEqual(
    after.map((p) => [p.name, p.state]),
    [
      ['change', 'RUNNING'],
      ['keep', 'RUNNING'],
      ['new', 'STOPPED'],
    ],
  );
  assert.equal(after.find((p) => p.name === 'keep')?.pid, pid('keep'), 'unchanged program untouched');
  assert.notEqual(after.find((p) => p.name === 'change')?.pid, pid('change'), 'changed program restarted');
  assert.ok(!pidAlive(pid('change')) && !pidAlive(pid('drop')));
  const same = await h.supervisor.updateGroup('slappart7', [
    sleeper('keep', { autostart: true, startsecs: 0 }),
    sleeper('change', { autostart: true, startsecs: 0, args: ['999'] }),
    sleeper('new', { startsecs: 0 }),
  ]);
  assert.deepEqual(same, { added: [], changed: [], removed: [] });
  const groupStart = await h.supervisor.startGroup('slappart7');
  assert.deepEqual(
    groupStart.map((r) => [r.name, r.ok]),
    [['slappart7:new', true]],
  );
  const removed = await h.supervisor.removeGroup('slappart7');
  assert.deepEqual(removed.removed.sort(), ['change', 'keep', 'new']);
  assert.deepEqual((await h.supervisor.status()).processes, []);
  for (const p of after) assert.ok(p.pid === null || !pidAlive(p.pid));
  await assert.rejects(h.supervisor.removeGroup('slappart7'), /no such process: slappart7/);
});

test('bad input: invalid programs, names and options get clear errors', async (t) => {
  const h = await harness(t);
  const invalid: [unknown, RegExp][] = [
    [[{ name: 'x' }], /programs\[0\]\.command: must be a non-empty string/],
    [[{ name: 'a:b', command: '/bin/true' }], /programs\[0\]\.name: invalid name/],
    [[{ name: 'x', command: '/bin/true', startsecs: -1 }], /programs\[0\]\.startsecs: must be a number ≥ 0/],
    [[{ name: 'x', command: '/bin/true', stopsignal: 'STOP' }], /stopsignal: must be one of/],
    [
      [{ name: 'x', command: '/bin/true', autorestart: 'yes' }],
      /autorestart: must be true, false or "unexpected"/,
    ],
    [[{ name: 'x', command: '/bin/true', colour: 'red' }], /programs\[0\]\.colour: unknown option/],
    [[{ name: 'x', command: '/bin/true', cwd: 'relative' }], /cwd: must be an absolute path/],
    [[{ name: 'x', command: '/bin/true', env: { A: 1 } }], /env\.A: must be a string/],
    [
      [
        { name: 'x', command: '/bin/true' },
        { name: 'x', command: '/bin/true' },
      ],
      /duplicate program x/,
    ],
    ['not a list', /programs: must be a list/],
  ];
  for (const [programs, message] of invalid) {
    await assert.rejects(
      h.supervisor.updateGroup('slappart8', programs as ProgramSpec[]),
      (error: SlapError) => error.code === 'SLAP_ERR_INVALID_INPUT' && message.test(error.message),
      String(message),
    );
  }
  await assert.rejects(h.supervisor.updateGroup('../etc', []), /group: invalid name/);
  await assert.rejects(h.supervisor.startProcess('nocolon'), /invalid process name/);
  await assert.rejects(h.supervisor.startProcess('slappart8:none'), (error: SlapError) => {
    assert.equal(error.code, 'SLAP_ERR_NO_SUCH_PROCESS');
    return true;
  });
  await assert.rejects(h.supervisor.startGroup('slappart8'), /no such process: slappart8:\*/);
  await assert.rejects(h.supervisor.waitEvents(-1), /after: must be/);
});

test('restart of the supervisor: live processes are re-attached, not restarted, and their exit is seen', async (t) => {
  const h = await harness(t);
  await h.supervisor.updateGroup('slappart9', [
    sleeper('svc-on-watch', { startsecs: 0, exitcodes: [], autorestart: false }),
    sleeper('stopped', { startsecs: 0 }),
    sleeper('other', { startsecs: 0 }),
  ]);
  const started = await h.supervisor.startProcess('slappart9:svc-on-watch');
  const other = await h.supervisor.startProcess('slappart9:other');
  await h.supervisor.close();
  assert.equal(h.supervisor.state, 'closed');
  await h.supervisor.close(); // idempotent
  assert.ok(started.pid !== null && pidAlive(started.pid), 'closing leaves programs running');

  h.events.length = 0;
  await h.open();
  const info = await h.info('slappart9:svc-on-watch');
  assert.equal(info.state, 'RUNNING');
  assert.equal(info.pid, started.pid);
  assert.equal(info.adopted, true);
  assert.equal(info.startedAt, started.startedAt);
  assert.equal((await h.info('slappart9:stopped')).state, 'STOPPED');
  assert.deepEqual(transitions(h.events, 'svc-on-watch'), [], 'no restart');

  process.kill(started.pid, 'SIGKILL');
  await waitFor(
    'exit seen by polling /proc',
    async () => (await h.info('slappart9:svc-on-watch')).state === 'EXITED',
  );
  await waitFor('notified', () => h.notified.length > 0);
  assert.equal(h.notified[0]?.info.state, 'EXITED');
  assert.equal(h.notified[0]?.info.pid, started.pid);
  assert.match(h.notified[0]?.info.message ?? '', /re-attached: exit status unknown/);

  // A re-attached process is stopped as a group like any other.
  const stopped = await h.supervisor.stopProcess('slappart9:other');
  assert.equal(stopped.state, 'STOPPED');
  assert.ok(other.pid !== null && !pidAlive(other.pid));
});

test('restart of the supervisor: a process that died meanwhile is reported, a changed one restarted', async (t) => {
  const h = await harness(t);
  await h.supervisor.updateGroup('slappart10', [sleeper('gone', { startsecs: 0, autorestart: true })]);
  const gone = await h.supervisor.startProcess('slappart10:gone');
  await h.supervisor.close();
  assert.ok(gone.pid !== null);
  process.kill(gone.pid, 'SIGKILL');
  await waitFor('gone', () => !pidAlive(gone.pid ?? 0));
  await h.open();
  await waitFor('notified', () => h.notified.length > 0);
  assert.equal(h.notified[0]?.program, 'gone');
  const restarted = await waitFor('autorestarted', async () => {
    const info = await h.info('slappart10:gone');
    return info.state === 'RUNNING' && info.pid !== gone.pid ? info : undefined;
  });
  assert.equal(restarted.adopted, false);

  // A crash between saving a new declaration and applying it: the process runs the old configuration.
  await h.supervisor.close();
  const programsPath = join(h.dir, 'state', 'programs.json');
  const declared = JSON.parse(readFileSync(programsPath, 'utf8')) as {
    groups: Record<string, { args: string[] }[]>;
  };
  const [config] = declared.groups.slappart10 ?? [];
  assert.ok(config);
  config.args = ['2000'];
  writeFileSync(programsPath, JSON.stringify(declared));
  await h.open();
  const changed = await waitFor('restarted with the new configuration', async () => {
    const info = await h.info('slappart10:gone');
    return info.state === 'RUNNING' && info.pid !== restarted.pid ? info : undefined;
  });
  assert.ok(!pidAlive(restarted.pid ?? 0));
  assert.match(readFileSync(`/proc/${changed.pid}/cmdline`, 'utf8'), /2000/);

  // A crash in the middle of a stop: the next supervisor finishes it.
  await h.supervisor.close();
  const processesPath = join(h.dir, 'state', 'processes.json');
  const records = JSON.parse(readFileSync(processesPath, 'utf8')) as {
    processes: Record<string, { state: string }>;
  };
  const record = records.processes['slappart10:gone'];
  assert.ok(record);
  record.state = 'STOPPING';
  writeFileSync(processesPath, JSON.stringify(records));
  await h.open();
  await waitFor('stop finished', async () => (await h.info('slappart10:gone')).state === 'STOPPED');
  assert.ok(!pidAlive(changed.pid ?? 0));
});

test('system mode: a program runs as its uid/gid and owns its log; without the right, a clear spawn error', async (t) => {
  const h = await harness(t);
  const root = process.getuid?.() === 0;
  // Someone else than us: nobody, or (when the tests run as nobody) its neighbour.
  const nobody = !root && process.getuid?.() === 65534 ? 65533 : 65534;
  const logFile = join(h.dir, 'logs', 'as-nobody.log');
  await h.supervisor.updateGroup('slappart11', [
    {
      name: 'as-nobody',
      command: '/bin/sh',
      args: ['-c', 'id -u; id -g'],
      uid: nobody,
      gid: nobody,
      autostart: false,
      autorestart: false,
      startsecs: 0,
      startretries: 0,
      logFile,
    },
  ]);
  if (root) {
    await h.supervisor.startProcess('slappart11:as-nobody');
    await waitFor('ran', async () => (await h.info('slappart11:as-nobody')).state === 'EXITED');
    assert.equal(readFileSync(logFile, 'utf8'), `${nobody}\n${nobody}\n`);
    assert.deepEqual([statSync(logFile).uid, statSync(logFile).gid], [nobody, nobody]);
  } else {
    await assert.rejects(
      h.supervisor.startProcess('slappart11:as-nobody'),
      /spawn error|EPERM|Operation not permitted/,
    );
    assert.equal((await h.info('slappart11:as-nobody')).state, 'FATAL');
  }
});
