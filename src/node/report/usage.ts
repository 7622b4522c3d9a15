/**
 * What a partition uses, measured without spawning anything: CPU time and resident memory of the
 * process groups of its supervised programs (from /proc), and the disk blocks under its directory
 * (as `du`: allocated blocks, each inode once, symbolic links not followed).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { liveProcesses, readRssBytes, type ProcStat } from '../supervisor/proc.ts';
import type { ProcessInfo } from '../supervisor/types.ts';
import type { PartitionUsage } from './usage-xml.ts';

/** Linux's USER_HZ: /proc counts CPU time in 1/100 s on every architecture. */
const TICKS_PER_SECOND = 100;

export interface MeasureOptions {
  instanceRoot: string;
  /** The supervisor's processes (its status). */
  processes: readonly ProcessInfo[];
  procRoot?: string;
}

export async function measurePartitions(
  partitionIds: readonly string[],
  options: MeasureOptions,
): Promise<PartitionUsage[]> {
  const byGroup = new Map<number, ProcStat[]>();
  for (const stat of liveProcesses(options.procRoot)) {
    const members = byGroup.get(stat.pgrp);
    if (members) members.push(stat);
    else byGroup.set(stat.pgrp, [stat]);
  }
  const usages: PartitionUsage[] = [];
  for (const id of partitionIds) {
    let ticks = 0;
    let memoryBytes = 0;
    for (const process of options.processes) {
      if (process.pid === null || (process.group !== id && !process.group.startsWith(`${id}-`))) continue;
      // Each program runs in its own process group, led by the program.
      for (const member of byGroup.get(process.pid) ?? []) {
        ticks += member.cpuTicks;
        memoryBytes += readRssBytes(member.pid, options.procRoot) ?? 0;
      }
    }
    usages.push({
      partitionId: id,
      cpuSeconds: ticks / TICKS_PER_SECOND,
      memoryBytes,
      diskBytes: await diskUsage(join(options.instanceRoot, id)),
    });
  }
  return usages;
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
