import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../testing/supervisor.ts';
import { isSameProcess, processGroupMembers, readBootId, readProcStat, readRssBytes } from './proc.ts';

function statLine(pid: number, comm: string, state: string, pgrp: number, startTime: number): string {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads itrealvalue starttime vsize …
  return `${pid} (${comm}) ${state} 1 ${pgrp} ${pgrp} 0 -1 0 0 0 0 0 3 4 5 6 20 0 1 0 ${startTime} 1000 10\n`;
}

test('readProcStat parses /proc/<pid>/stat, command names with spaces and parentheses included', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const entries: [number, string, string, number, number][] = [
    [10, 'sleep', 'S', 10, 5000],
    [11, 'evil) S 1 2 (name', 'R', 10, 5001],
    [12, 'zombie', 'Z', 10, 5002],
    [13, 'other', 'S', 13, 5003],
  ];
  for (const [pid, comm, state, pgrp, start] of entries) {
    await mkdir(join(dir.path, String(pid)));
    await writeFile(join(dir.path, String(pid), 'stat'), statLine(pid, comm, state, pgrp, start));
  }
  await mkdir(join(dir.path, 'self'));
  assert.deepEqual(readProcStat(11, dir.path), {
    pid: 11,
    state: 'R',
    ppid: 1,
    pgrp: 10,
    startTime: 5001,
    cpuTicks: 18,
    rssPages: 10,
  });
  assert.equal(readProcStat(99, dir.path), undefined);
  assert.ok(isSameProcess(10, 5000, dir.path));
  assert.ok(!isSameProcess(10, 4999, dir.path), 'same pid, another start time: a reused pid');
  assert.ok(!isSameProcess(12, 5002, dir.path), 'a zombie is not alive');
  assert.deepEqual(processGroupMembers(10, dir.path).sort(), [10, 11]);
  assert.equal(readBootId(dir.path), 'unknown');
});

test('the real /proc: this process is found with its start time, memory and boot id', () => {
  const self = readProcStat(process.pid);
  assert.ok(self && self.startTime > 0 && self.state !== 'Z');
  assert.ok(isSameProcess(process.pid, self.startTime));
  assert.ok((readRssBytes(process.pid) ?? 0) > 1024 * 1024);
  assert.match(readBootId(), /^[0-9a-f-]{36}$/);
});
