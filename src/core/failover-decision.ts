/**
 * When the master promotes a clone of a resilient instance tree (contract §4): pure, no I/O. A main
 * is lost when its node's last contact and its promise results are both older than failover_after
 * (and the master has been up that long: contacts noted in memory died with the previous process);
 * the candidate clones are live clones (never fenced) on another node that restored a backup; the
 * most recently restored wins, ties to the lowest instance id. Shared by the failover monitor and
 * the manual takeover (chooseClone).
 */

export interface MemberState {
  instanceId: number;
  role: 'main' | 'clone' | 'fenced';
  computeNodeId: string | null;
  nodeLastContactAt: number | null;
  promisesReportedAt: number | null;
  restoredAt: number | null;
}

export interface TreeState {
  rootInstanceId: number;
  epoch: number;
  members: MemberState[];
}

export interface FailoverSettings {
  failoverAfterSeconds: number;
  /** When the master started (float seconds). */
  startedAt: number;
}

export type FailoverDecision =
  { kind: 'none'; reason: string } | { kind: 'promote'; cloneInstanceId: number; reason: string };

function recent(at: number | null, now: number, within: number): boolean {
  return at !== null && now - at < within;
}

/** The clone to promote (`wanted`, or the most up-to-date live one), or why there is none. */
export function chooseClone(
  tree: TreeState,
  settings: FailoverSettings,
  now: number,
  wanted?: number,
): { cloneInstanceId: number } | { refused: string } {
  const main = tree.members.find((member) => member.role === 'main');
  const candidates = tree.members.filter(
    (member) =>
      member.role === 'clone' &&
      member.computeNodeId !== null &&
      member.computeNodeId !== main?.computeNodeId &&
      recent(member.nodeLastContactAt, now, settings.failoverAfterSeconds) &&
      member.restoredAt !== null &&
      (wanted === undefined || member.instanceId === wanted),
  );
  if (candidates.length === 0)
    return {
      refused:
        wanted === undefined
          ? 'no clone can take over: none is live on another node with a restored backup'
          : 'that clone cannot take over: it is not a live clone on another node with a restored backup',
    };
  candidates.sort((a, b) => (b.restoredAt ?? 0) - (a.restoredAt ?? 0) || a.instanceId - b.instanceId);
  return { cloneInstanceId: (candidates[0] as MemberState).instanceId };
}

/** Whether the tree's main is lost and which clone takes over. */
export function decideFailover(tree: TreeState, settings: FailoverSettings, now: number): FailoverDecision {
  const after = settings.failoverAfterSeconds;
  if (now - settings.startedAt < after) return { kind: 'none', reason: 'the master started too recently' };
  const main = tree.members.find((member) => member.role === 'main');
  if (!main?.computeNodeId) return { kind: 'none', reason: 'the main is not allocated' };
  if (recent(main.nodeLastContactAt, now, after)) return { kind: 'none', reason: 'the main node is live' };
  if (recent(main.promisesReportedAt, now, after))
    return { kind: 'none', reason: 'the main still reports its promises' };
  const chosen = chooseClone(tree, settings, now);
  if ('refused' in chosen) return { kind: 'none', reason: chosen.refused };
  return {
    kind: 'promote',
    cloneInstanceId: chosen.cloneInstanceId,
    reason: `node ${main.computeNodeId} lost: no contact nor promise results for ${after} s`,
  };
}
