/**
 * CPU time used between two measures, per partition, from the cumulative counters of /proc. A
 * process is known by its pid and start time (a reused pid is another process); its counter is
 * user + system time of itself and of the children it waited for. So:
 * - a process seen before counts what its counter grew by; one not seen before (started, restarted)
 *   counts from 0;
 * - a process that ended was waited for by its parent, whose counter grew by its whole counter
 *   (through the parents that ended too, up to the first one still running): what the previous
 *   measure already counted of it is taken off again, so it is not counted twice. (What a process
 *   used between the previous measure and its end, when no measured parent waited for it, cannot be
 *   known and is not counted; a zombie is counted when it is waited for.)
 * Nothing is ever negative.
 */
import type { ProcStat } from '../supervisor/proc.ts';

/** Per process (`<pid>:<start time>`): its counter at the measure, and its parent. */
export type ProcessCounters = Record<string, { ticks: number; ppid: number }>;

function keyOf(stat: Pick<ProcStat, 'pid' | 'startTime'>): string {
  return `${stat.pid}:${stat.startTime}`;
}

export function cpuTicksSince(
  previous: ProcessCounters,
  members: ReadonlyMap<string, readonly ProcStat[]>,
): { used: Map<string, number>; counters: ProcessCounters } {
  const counters: ProcessCounters = {};
  /** Current processes seen at the previous measure too, by pid: to find a parent that waited. */
  const continuing = new Map<number, string>();
  for (const [partition, stats] of members)
    for (const stat of stats) {
      counters[keyOf(stat)] = { ticks: stat.cpuTicks, ppid: stat.ppid };
      if (Object.hasOwn(previous, keyOf(stat))) continuing.set(stat.pid, partition);
    }
  const used = new Map<string, number>();
  for (const [partition, stats] of members) {
    let ticks = 0;
    for (const stat of stats) {
      const before = Object.hasOwn(previous, keyOf(stat)) ? (previous[keyOf(stat)]?.ticks ?? 0) : 0;
      ticks += Math.max(0, stat.cpuTicks - before);
    }
    used.set(partition, ticks);
  }
  // An ended process's whole counter went to the parent that waited for it, and from a parent that
  // ended too to its own: up to the first ancestor still running, which the previous measure saw.
  const previousByPid = new Map<number, { ppid: number; ended: boolean }>();
  for (const [key, counter] of Object.entries(previous))
    previousByPid.set(Number(key.split(':')[0]), {
      ppid: counter.ppid,
      ended: !Object.hasOwn(counters, key),
    });
  for (const [key, counter] of Object.entries(previous)) {
    if (Object.hasOwn(counters, key)) continue;
    let parent = counter.ppid;
    for (let step = 0; step <= previousByPid.size; step++) {
      const partition = continuing.get(parent);
      if (partition !== undefined) {
        used.set(partition, Math.max(0, (used.get(partition) ?? 0) - counter.ticks));
        break;
      }
      const ancestor = previousByPid.get(parent);
      if (!ancestor?.ended) break;
      parent = ancestor.ppid;
    }
  }
  return { used, counters };
}
