/**
 * What a partition uses, measured without spawning anything: the CPU time its supervised programs'
 * process groups used since the previous measure, their resident memory now (from /proc), and the
 * disk blocks under its directory (as `du`: allocated blocks, each inode once, symbolic links not
 * followed).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { liveProcesses, readRssBytes, type ProcStat } from '../supervisor/proc.ts';
import type { ProcessInfo } from '../supervisor/types.ts';
import { cpuTicksSince, type ProcessCounters } from './cpu-counters.ts';
import type { PartitionUsage } from './usage-xml.ts';

/** Linux's USER_HZ: /proc counts CPU time in 1/100 s on every architecture. */
const TICKS_PER_SECOND = 100;

export interface MeasureOptions {
  instanceRoot: string;
  /** The supervisor's processes (its status). */
  processes: readonly ProcessInfo[];
  /** The counters of the previous measure (same boot); none: every process counts from 0. */
  previous?: ProcessCounters;
  procRoot?: string;
}

export interface Measure {
  usages: PartitionUsage[];
  /** What the next measure counts from. */
  counters: ProcessCounters;
}

export async function measurePartitions(
  partitionIds: readonly string[],
  options: MeasureOptions,
): Promise<Measure> {
  const byGroup = new Map<number, ProcStat[]>();
  for (const stat of liveProcesses(options.procRoot)) {
    const members = byGroup.get(stat.pgrp);
    if (members) members.push(stat);
    else byGroup.set(stat.pgrp, [stat]);
  }
  const members = new Map<string, ProcStat[]>();
  for (const id of partitionIds) {
    const stats: ProcStat[] = [];
    for (const process of options.processes) {
      if (process.pid === null || (process.group !== id && !process.group.startsWith(`${id}-`))) continue;
      // Each program runs in its own process group, led by the program.
      stats.push(...(byGroup.get(process.pid) ?? []));
    }
    members.set(id, stats);
  }
  const cpu = cpuTicksSince(options.previous ?? {}, members);
  const usages: PartitionUsage[] = [];
  for (const [id, stats] of members) {
    let memoryBytes = 0;
    for (const stat of stats) memoryBytes += readRssBytes(stat.pid, options.procRoot) ?? 0;
    usages.push({
      partitionId: id,
      cpuSeconds: (cpu.used.get(id) ?? 0) / TICKS_PER_SECOND,
      memoryBytes,
      diskBytes: await diskUsage(join(options.instanceRoot, id)),
    });
  }
  return { usages, counters: cpu.counters };
}

/** Bytes allocated under `path` (512-byte blocks, as du). */
export async function diskUsage(path: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const visit = async (current: string): Promise<void> => {
    const info = await lstat(current).catch(() => undefined);
    if (!info || seen.has(info.ino)) return;
    seen.add(info.ino);
    total += info.blocks * 512;
    if (!info.isDirectory()) return;
    for (const name of await readdir(current).catch(() => [])) await visit(join(current, name));
  };
  await visit(path);
  return total;
}
