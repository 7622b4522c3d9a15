/**
 * A fake /proc for tests of what the node measures (the `procRoot` option): processes with their
 * stat line (pid, parent, process group, start time, CPU ticks) and resident memory, the boot id and
 * the boot time.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FakeProcess {
  pid: number;
  ppid?: number;
  /** Process group (default: the pid, a group leader). */
  pgrp?: number;
  startTime: number;
  /** utime, stime, cutime, cstime in clock ticks (default 0). */
  utime?: number;
  stime?: number;
  cutime?: number;
  cstime?: number;
  rssKb?: number;
}

export async function writeFakeProcess(procRoot: string, process: FakeProcess): Promise<void> {
  const dir = join(procRoot, String(process.pid));
  await mkdir(dir, { recursive: true });
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice threads itrealvalue starttime vsize rss
  const fields = [
    'S',
    process.ppid ?? 1,
    process.pgrp ?? process.pid,
    process.pgrp ?? process.pid,
    0,
    -1,
    0,
    0,
    0,
    0,
    0,
    process.utime ?? 0,
    process.stime ?? 0,
    process.cutime ?? 0,
    process.cstime ?? 0,
    20,
    0,
    1,
    0,
    process.startTime,
    1000,
    Math.ceil((process.rssKb ?? 0) / 4),
  ];
  await writeFile(join(dir, 'stat'), `${process.pid} (a (tricky) name) ${fields.join(' ')}\n`);
  await writeFile(join(dir, 'status'), `Name:\tfake\nVmRSS:\t${process.rssKb ?? 0} kB\n`);
}

export async function removeFakeProcess(procRoot: string, pid: number): Promise<void> {
  await rm(join(procRoot, String(pid)), { recursive: true, force: true });
}

/** The boot id and boot time (seconds since the epoch) the node reads. */
export async function writeFakeBoot(procRoot: string, boot: { id: string; time: number }): Promise<void> {
  await mkdir(join(procRoot, 'sys', 'kernel', 'random'), { recursive: true });
  await writeFile(join(procRoot, 'sys', 'kernel', 'random', 'boot_id'), `${boot.id}\n`);
  await writeFile(join(procRoot, 'stat'), `cpu  1 2 3 4\nbtime ${boot.time}\nprocesses 7\n`);
}
