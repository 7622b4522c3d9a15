/**
 * What Linux's /proc tells about processes: enough to recognise a process again after the daemon
 * restarted (pid + start time, so a reused pid is not mistaken for ours), to see whether it is
 * still alive, and to list the members of a process group.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), X (dead), T, … */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks after boot at which the process started: with the pid, a unique identity. */
  startTime: number;
  /** CPU time in clock ticks: user and system, of the process and of its waited-for children. */
  cpuTicks: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/** Parses /proc/<pid>/stat (the command name may hold spaces and parentheses: split after the last ')'). */
export function readProcStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after the command: 3 state, 4 ppid, 5 pgrp, … 14-17 utime stime cutime cstime, 22
  // starttime, 24 rss (1-based in proc(5)).
  const fields = text.slice(close + 2).split(' ');
  const startTime = Number(fields[19]);
  if (fields.length < 20 || !Number.isFinite(startTime)) return undefined;
  const number = (index: number): number => Number(fields[index] ?? 0) || 0;
  return {
    pid,
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime,
    cpuTicks: number(11) + number(12) + number(13) + number(14),
    rssPages: number(21),
  };
}

/** True while the process exists and is not a zombie. */
export function isLive(stat: ProcStat | undefined): stat is ProcStat {
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** True if `pid` is still the process that started at `startTime` (not exited, pid not reused). */
export function isSameProcess(pid: number, startTime: number, procRoot = '/proc'): boolean {
  const stat = readProcStat(pid, procRoot);
  return isLive(stat) && stat.startTime === startTime;
}

/** Live (non-zombie) processes of a process group. */
export function processGroupMembers(pgid: number, procRoot = '/proc'): number[] {
  return liveProcesses(procRoot)
    .filter((stat) => stat.pgrp === pgid)
    .map((stat) => stat.pid);
}

/** Every live (non-zombie) process. */
export function liveProcesses(procRoot = '/proc'): ProcStat[] {
  const processes: ProcStat[] = [];
  for (const entry of readdirSync(procRoot)) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readProcStat(pid, procRoot);
    if (isLive(stat)) processes.push(stat);
  }
  return processes;
}

/** Changes at every boot: pids and start times from another boot mean nothing. */
export function readBootId(procRoot = '/proc'): string {
  try {
    return readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Resident set size of a process in bytes (VmRSS), or undefined if it is gone. */
export function readRssBytes(pid: number, procRoot = '/proc'): number | undefined {
  try {
    const status = readFileSync(`${procRoot}/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** When the machine booted (seconds since the epoch, the `btime` line of /proc/stat), or undefined. */
export function readBootTime(procRoot = '/proc'): number | undefined {
  try {
    const match = /^btime\s+(\d+)$/m.exec(readFileSync(`${procRoot}/stat`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
