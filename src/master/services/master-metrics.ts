/**
 * What the master's `/metrics` shows of its data (http/metrics.ts): instances counted by requested
 * state and status (the status people read: core/instance-status.ts), and the compute nodes' last
 * contact. Whole-master figures: only an admin or the scrape token may read them (`master.metrics`).
 */
import type { InstanceStatus } from '../../core/instance-status.ts';
import type { RequestedState } from '../../core/states.ts';
import type { ComputeNodeContactRecord } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { deploymentStatus } from './instance-status.ts';

export interface InstanceStatusCount {
  requestedState: RequestedState;
  status: InstanceStatus;
  count: number;
}

/** How many (non-shared) instances there are of each requested state and status; only those present. */
export async function countInstancesByStatus(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<InstanceStatusCount[]> {
  await context.authorize(input.caller, 'master.metrics', { kind: 'master' });
  const facts = await context.store.read((repository) => repository.listInstanceStatusFacts());
  const counts = new Map<string, InstanceStatusCount>();
  for (const fact of facts) {
    const { status } = deploymentStatus(fact);
    const key = `${fact.requestedState} ${status}`;
    const count = counts.get(key);
    if (count) count.count++;
    else counts.set(key, { requestedState: fact.requestedState, status, count: 1 });
  }
  return [...counts.values()];
}

/** Every compute node's last call for its pass (services/node-contacts.ts). */
export async function listComputeNodeContacts(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<ComputeNodeContactRecord[]> {
  await context.authorize(input.caller, 'master.metrics', { kind: 'master' });
  return context.contacts.list();
}
