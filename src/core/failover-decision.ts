/**
 * When the master takes a resilient instance tree over, and which clone it promotes: the one place
 * that decides, pure (no clock, no I/O). The failover monitor (master/services/failover.ts) feeds it
 * every resilient tree each second; `slapos service takeover` asks `chooseClone` for the same choice.
 *
 * Every time is in seconds since the epoch (the master's REAL columns), like `now` and `startedAt`.
 * A time that is null or not a finite number is "never": a node that never made contact is not alive.
 */

export type MemberRole = 'main' | 'clone' | 'fenced';

export interface MemberState {
  instanceId: number;
  role: MemberRole;
  /** The compute node of the member's partition; null when it has none (not allocated yet). */
  computeNodeId: string | null;
  /** The last time that node contacted the master (sync, snapshot, report…). */
  nodeLastContactAt: number | null;
  /** The last time the member's promise results were reported. */
  promisesReportedAt: number | null;
  /** The time of the backup the member last restored (clones); null: it never restored one. */
  restoredAt: number | null;
}

export interface TreeState {
  rootInstanceId: number;
  epoch: number;
  members: MemberState[];
}

export interface FailoverSettings {
  /** How long a node and its promises may stay silent before the main is declared lost. */
  failoverAfterSeconds: number;
  /** When this master process started: contacts noted before it were lost with the previous one. */
  startedAt: number;
}

export type FailoverDecision =
  { kind: 'none'; reason: string } | { kind: 'promote'; cloneInstanceId: number; reason: string };

export type CloneChoice = { cloneInstanceId: number } | { refused: string };

/**
 * Whether to promote a clone of the tree now: only when its main is lost — its node has not made
 * contact within failover_after AND its promises have not reported within failover_after — and this
 * master has been up for failover_after at least; then the clone `chooseClone` picks, if any.
 */
export function decideFailover(tree: TreeState, settings: FailoverSettings, now: number): FailoverDecision {
  const main = mainOf(tree);
  if ('refused' in main) return { kind: 'none', reason: main.refused };
  const after = settings.failoverAfterSeconds;
  const up = now - settings.startedAt;
  if (!(up >= after)) {
    return {
      kind: 'none',
      reason: `grace period: the master started ${seconds(up)} ago, nodes are judged after ${seconds(after)}`,
    };
  }
  const { member } = main;
  if (member.computeNodeId === null) return { kind: 'none', reason: 'the main is not allocated' };
  if (isFresh(member.nodeLastContactAt, after, now)) {
    return { kind: 'none', reason: `the main's node ${member.computeNodeId} is in contact` };
  }
  if (isFresh(member.promisesReportedAt, after, now)) {
    return { kind: 'none', reason: `the main's promises still report` };
  }
  const lost =
    `the main's node ${member.computeNodeId} is lost (no contact ${since(member.nodeLastContactAt, now)}, ` +
    `no promise results ${since(member.promisesReportedAt, now)})`;
  const choice = chooseClone(tree, settings, now);
  if ('refused' in choice) return { kind: 'none', reason: `${lost} but ${choice.refused}` };
  const clone = tree.members.find((m) => m.instanceId === choice.cloneInstanceId);
  return {
    kind: 'promote',
    cloneInstanceId: choice.cloneInstanceId,
    reason: `${lost}: promoting clone ${choice.cloneInstanceId} on ${clone?.computeNodeId ?? '?'}`,
  };
}

/**
 * Whether a node counts as gone for a main's pushes: this master has been up for failover_after and
 * the node has not made contact within it (a push to it would wait on a peer that is not there,
 * holding up the backups of the other clones).
 */
export function nodeOutOfContact(
  lastContactAt: number | null,
  settings: FailoverSettings,
  now: number,
): boolean {
  const after = settings.failoverAfterSeconds;
  return now - settings.startedAt >= after && !isFresh(lastContactAt, after, now);
}

/**
 * The clone to promote (automatically, or by hand with `wanted`): a member with role `clone` (never
 * `fenced`), on a node other than the main's, whose node made contact within failover_after and that
 * restored a backup; the one that restored the newest backup, ties to the lowest instance id. Whether
 * the main is lost is not its business (a person may switch over from a live main).
 */
export function chooseClone(
  tree: TreeState,
  settings: FailoverSettings,
  now: number,
  wanted?: number,
): CloneChoice {
  const main = mainOf(tree);
  if ('refused' in main) return main;
  const mainNode = main.member.computeNodeId;
  // Said of the clone a person named (`slapos service takeover NAME --clone TITLE`).
  const refusal = (member: MemberState): string | undefined => {
    if (member.role === 'fenced') return 'that instance is fenced (a former main), not a clone yet';
    if (member.role !== 'clone') return 'that instance is the main, not a clone';
    if (member.computeNodeId === null) return 'that clone is not allocated';
    if (member.computeNodeId === mainNode) return `that clone is on the main's node ${member.computeNodeId}`;
    if (!isFresh(member.nodeLastContactAt, settings.failoverAfterSeconds, now)) {
      return `that clone's node ${member.computeNodeId} is not in contact`;
    }
    if (!isTime(member.restoredAt)) return 'that clone has not restored any backup yet';
    return undefined;
  };
  if (wanted !== undefined) {
    const member = tree.members.find((m) => m.instanceId === wanted);
    if (member === undefined) return { refused: 'no such clone in this tree' };
    const refused = refusal(member);
    return refused === undefined ? { cloneInstanceId: wanted } : { refused };
  }
  let best: MemberState | undefined;
  for (const member of tree.members) {
    if (refusal(member) !== undefined) continue;
    if (best === undefined || isBetter(member, best)) best = member;
  }
  if (best === undefined) return { refused: 'no clone can take over (none alive with a restored backup)' };
  return { cloneInstanceId: best.instanceId };
}

/** Newer restored backup first, then the lower instance id (candidates have a restoredAt). */
function isBetter(candidate: MemberState, best: MemberState): boolean {
  const a = candidate.restoredAt as number;
  const b = best.restoredAt as number;
  if (a !== b) return a > b;
  return candidate.instanceId < best.instanceId;
}

/** The tree's one member with role `main`. */
function mainOf(tree: TreeState): { member: MemberState } | { refused: string } {
  const mains = tree.members.filter((m) => m.role === 'main');
  if (mains.length === 0) return { refused: 'the tree has no main' };
  if (mains.length > 1) return { refused: `the tree has ${mains.length} mains` };
  return { member: mains[0] as MemberState };
}

function isTime(value: number | null): value is number {
  return value !== null && Number.isFinite(value);
}

/** Whether a time is within `after` seconds of now (a time ahead of now, a skewed clock, is fresh). */
function isFresh(time: number | null, after: number, now: number): boolean {
  return isTime(time) && now - time <= after;
}

function seconds(value: number): string {
  return `${Number.isFinite(value) ? Math.round(value * 10) / 10 : value} s`;
}

function since(time: number | null, now: number): string {
  return isTime(time) ? `for ${seconds(now - time)}` : 'ever';
}
