import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcStat } from '../supervisor/proc.ts';
import { seededChoices } from '../../testing/hostile-strings.ts';
import { cpuTicksSince, type ProcessCounters } from './cpu-counters.ts';

function stat(pid: number, startTime: number, cpuTicks: number, ppid = 1): ProcStat {
  return { pid, startTime, cpuTicks, ppid, pgrp: pid, state: 'S', rssPages: 0 };
}

test('a process seen before counts its growth; a new or restarted one counts from 0', () => {
  const first = cpuTicksSince({}, new Map([['slappart0', [stat(10, 500, 30)]]]));
  assert.deepEqual([...first.used], [['slappart0', 30]]);
  const second = cpuTicksSince(
    first.counters,
    new Map([
      ['slappart0', [stat(10, 500, 45)]],
      ['slappart1', [stat(11, 900, 7)]],
    ]),
  );
  assert.deepEqual(
    [...second.used],
    [
      ['slappart0', 15],
      ['slappart1', 7],
    ],
  );
  // pid 10 restarted (another start time) with a counter below the old one: from 0, never negative.
  const third = cpuTicksSince(second.counters, new Map([['slappart0', [stat(10, 777, 4)]]]));
  assert.deepEqual([...third.used], [['slappart0', 4]]);
  assert.deepEqual(third.counters, { '10:777': { ticks: 4, ppid: 1 } });
});

/**
 * A simulated process tree under one program: the leader lives on; processes spawn children, use
 * CPU, and end once their children ended, waited for by their parent (its children's counter grows
 * by their whole counter, as Linux does). Each measure must count exactly the CPU used since the
 * previous one.
 */
test('property: measured CPU equals the CPU used in each interval, children ending or not', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const choose = seededChoices(seed);
    interface Simulated {
      pid: number;
      ppid: number;
      own: number;
      children: number;
      alive: boolean;
    }
    const processes = new Map<number, Simulated>([
      [100, { pid: 100, ppid: 1, own: 0, children: 0, alive: true }],
    ]);
    let nextPid = 101;
    let usedSinceMeasure = 0;
    let previous: ProcessCounters = {};
    for (let step = 0; step < 80; step++) {
      const alive = [...processes.values()].filter((p) => p.alive);
      const actor = alive[choose(alive.length)];
      assert.ok(actor);
      switch (choose(4)) {
        case 0:
          processes.set(nextPid, { pid: nextPid, ppid: actor.pid, own: 0, children: 0, alive: true });
          nextPid++;
          break;
        case 1: {
          const hasChildren = alive.some((p) => p.ppid === actor.pid);
          const parent = processes.get(actor.ppid);
          if (actor.pid !== 100 && !hasChildren && parent) {
            actor.alive = false;
            parent.children += actor.own + actor.children;
          }
          break;
        }
        case 2: {
          const ticks = 1 + choose(50);
          actor.own += ticks;
          usedSinceMeasure += ticks;
          break;
        }
        default: {
          const members = [...processes.values()]
            .filter((p) => p.alive)
            .map((p) => stat(p.pid, p.pid * 10, p.own + p.children, p.ppid));
          const measure = cpuTicksSince(previous, new Map([['slappart0', members]]));
          assert.equal(measure.used.get('slappart0'), usedSinceMeasure, `seed ${seed}, step ${step}`);
          previous = measure.counters;
          usedSinceMeasure = 0;
        }
      }
    }
  }
});

test('property: whatever the counters, nothing is negative', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const choose = seededChoices(seed);
    const sample = (): ProcStat[] =>
      Array.from({ length: choose(6) }, () => stat(1 + choose(8), choose(3), choose(1000), 1 + choose(8)));
    let previous: ProcessCounters = {};
    for (let round = 0; round < 5; round++) {
      const measure = cpuTicksSince(
        previous,
        new Map([
          ['slappart0', sample()],
          ['slappart1', sample()],
        ]),
      );
      for (const [partition, ticks] of measure.used)
        assert.ok(ticks >= 0, `seed ${seed}: ${partition} ${ticks}`);
      previous = measure.counters;
    }
  }
});
