/**
 * Regularisation (docs/invoicing.md), as SlapOS has it, behind an explicit policy: an invoice left
 * unpaid `stopAfterDays` after it was issued stops every instance tree of its user; after
 * `destroyAfterDays` it destroys them. Paying restarts the trees the policy stopped, and only those
 * (a tree its owner had stopped stays stopped).
 *
 * A run is a reconciliation, safe to repeat: it reads the unpaid invoices, works out each user's
 * stage, and plans what differs from it (the dry run stops there). Trees change through the use
 * case the API and the panel use (instance-trees.ts updateInstanceTree), as their owner would; the
 * trees stopped are recorded first (regularisation_stop), so that a run cut short leaves nothing a
 * later run or a payment cannot finish. A corrected invoice is due since the invoice it replaces
 * was issued: a correction grants no delay. Each change is audited and recorded on the invoice.
 */
import { compare, parseDecimal, ZERO } from '../../core/decimal.ts';
import {
  regularisationStage,
  type RegularisationPolicy,
  type RegularisationStage,
} from '../../core/regularisation-policy.ts';
import type { RequestedState } from '../../core/states.ts';
import type { InvoiceRecord } from '../storage/invoice-repository.ts';
import type { RegularisationStopRecord, Repository } from '../storage/repository.ts';
import { audit } from './audit.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { updateInstanceTree } from './instance-trees.ts';

/** One change of an instance tree the policy makes (or, in a dry run, would make). */
export interface RegularisationAction {
  action: 'stop' | 'destroy' | 'restart';
  user: string;
  instanceTree: string;
  /** The invoice it is done for (a restart: the one that stopped the tree). */
  invoice: string;
  /** Set when the change failed (the run goes on with the others). */
  error?: string;
}

/** What the policy records on an invoice. */
export interface InvoiceMark {
  invoice: string;
  user: string;
  regularisation: RegularisationStage;
}

export interface RegularisationReport {
  /** When the run looked (float seconds). */
  at: number;
  dryRun: boolean;
  actions: RegularisationAction[];
  invoices: InvoiceMark[];
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const STAGE_RANK: Record<RegularisationStage, number> = { stopped: 1, destroyed: 2 };

interface UserStage {
  stage: RegularisationStage;
  /** The oldest invoice at that stage. */
  invoice: string;
}

/** The instance trees' changes are made as their owner makes them (same rules of allocation). */
function ownerCaller(owner: string): Caller {
  return { kind: 'user', userId: owner, admin: false };
}

/** What the policy recorded on an invoice (the column is text: anything else counts as nothing). */
function stageOf(value: string | null): RegularisationStage | undefined {
  return value === 'stopped' || value === 'destroyed' ? value : undefined;
}

/** Invoices (not credit notes) issued and neither paid nor cancelled, oldest first; `user`'s only if given. */
async function unpaidInvoices(repository: Repository, user?: string): Promise<InvoiceRecord[]> {
  const invoices = await repository.listInvoices({ kind: 'invoice', state: 'issued', user });
  return invoices.sort((a, b) => a.issuedAt - b.issuedAt || byText(a.reference, b.reference));
}

/** At most this many invoices in a correction chain are followed (a loop in stored data ends there). */
const MAX_CORRECTIONS = 1000;

/** When the debt an invoice bills was first invoiced: the issue of the first invoice of its chain. */
async function dueSince(repository: Repository, invoice: InvoiceRecord): Promise<number> {
  let since = invoice.issuedAt;
  let corrects = invoice.corrects;
  for (let step = 0; corrects !== null && step < MAX_CORRECTIONS; step++) {
    const previous = await repository.getInvoice(corrects);
    if (!previous) break;
    since = Math.min(since, previous.issuedAt);
    corrects = previous.corrects;
  }
  return since;
}

interface Plan {
  actions: RegularisationAction[];
  invoices: InvoiceMark[];
  /** Records of trees the policy no longer holds and need no restart (destroyed, gone, started). */
  forgotten: RegularisationStopRecord[];
}

/** The trees the policy stopped that `held` no longer holds: restarted if still stopped, else forgotten. */
async function planReleases(
  repository: Repository,
  stops: readonly RegularisationStopRecord[],
  held: (owner: string) => boolean,
  plan: Plan,
): Promise<void> {
  const states = new Map<string, Map<string, RequestedState>>();
  for (const stop of stops) {
    if (held(stop.owner)) continue;
    let trees = states.get(stop.owner);
    if (!trees) {
      trees = new Map();
      for (const row of await repository.listInstanceTreeRows(stop.owner))
        if (!trees.has(row.title)) trees.set(row.title, row.requestedState);
      states.set(stop.owner, trees);
    }
    if (trees.get(stop.instanceTree) === 'stopped')
      plan.actions.push({
        action: 'restart',
        user: stop.owner,
        instanceTree: stop.instanceTree,
        invoice: stop.invoice,
      });
    else plan.forgotten.push(stop);
  }
}

/** What the policy does now: each user's stage from their unpaid invoices, and what differs from it. */
async function planRegularisation(
  repository: Repository,
  policy: RegularisationPolicy,
  now: number,
): Promise<Plan> {
  const plan: Plan = { actions: [], invoices: [], forgotten: [] };
  const stages = new Map<string, UserStage>();
  for (const invoice of await unpaidInvoices(repository)) {
    // Nothing to pay (a total rounded to 0.00): nothing to enforce.
    if (compare(parseDecimal(invoice.total), ZERO) <= 0) continue;
    const stage = regularisationStage(policy, now - (await dueSince(repository, invoice)));
    if (stage === undefined) continue;
    const done = stageOf(invoice.regularisation);
    if (done === undefined || STAGE_RANK[done] < STAGE_RANK[stage])
      plan.invoices.push({ invoice: invoice.reference, user: invoice.user, regularisation: stage });
    const current = stages.get(invoice.user);
    // Invoices come oldest first: the first one at the user's highest stage names it.
    if (!current || STAGE_RANK[current.stage] < STAGE_RANK[stage])
      stages.set(invoice.user, { stage, invoice: invoice.reference });
  }
  for (const [user, { stage, invoice }] of [...stages].sort(([a], [b]) => byText(a, b))) {
    const seen = new Set<string>();
    const trees = (await repository.listInstanceTreeRows(user)).sort((a, b) => byText(a.title, b.title));
    for (const tree of trees) {
      // A shared root named as a non-shared one is reached through it (instance-trees.ts findRoot).
      if (seen.has(tree.title)) continue;
      seen.add(tree.title);
      if (stage === 'destroyed' && tree.requestedState !== 'destroyed')
        plan.actions.push({ action: 'destroy', user, instanceTree: tree.title, invoice });
      else if (stage === 'stopped' && tree.requestedState === 'started')
        plan.actions.push({ action: 'stop', user, instanceTree: tree.title, invoice });
    }
  }
  await planReleases(
    repository,
    await repository.listRegularisationStops(),
    (owner) => stages.has(owner),
    plan,
  );
  return plan;
}

const AUDIT_EVENTS = {
  stop: 'regularisation.stopped',
  destroy: 'regularisation.destroyed',
  restart: 'regularisation.restarted',
} as const;

const TARGET_STATES: Record<RegularisationAction['action'], RequestedState> = {
  stop: 'stopped',
  destroy: 'destroyed',
  restart: 'started',
};

/** Makes one change; a failure is logged and kept on the action, and the run goes on. */
async function apply(context: ServiceContext, action: RegularisationAction): Promise<void> {
  const now = context.clock.now();
  try {
    // Recorded before the tree is stopped: a run cut short between the two stops it again later,
    // and a payment restarts it.
    if (action.action === 'stop')
      await context.store.write((repository) =>
        repository.insertRegularisationStop({
          owner: action.user,
          instanceTree: action.instanceTree,
          invoice: action.invoice,
          stoppedAt: now,
        }),
      );
    await updateInstanceTree(context, {
      caller: ownerCaller(action.user),
      title: action.instanceTree,
      state: TARGET_STATES[action.action],
    });
    if (action.action !== 'stop')
      await context.store.write((repository) =>
        repository.deleteRegularisationStop(action.user, action.instanceTree),
      );
    audit(context.logger, AUDIT_EVENTS[action.action], {
      user: action.user,
      instanceTree: action.instanceTree,
      invoice: action.invoice,
    });
  } catch (error) {
    action.error = error instanceof Error ? error.message : String(error);
    context.logger.error(
      { err: error, action: action.action, user: action.user, instanceTree: action.instanceTree },
      'regularisation: changing an instance tree failed',
    );
  }
}

async function carryOut(context: ServiceContext, plan: Plan): Promise<void> {
  for (const action of plan.actions) await apply(context, action);
  if (plan.invoices.length === 0 && plan.forgotten.length === 0) return;
  await context.store.write(async (repository) => {
    for (const mark of plan.invoices)
      await repository.setInvoiceRegularisation(mark.invoice, mark.regularisation);
    for (const stop of plan.forgotten)
      await repository.deleteRegularisationStop(stop.owner, stop.instanceTree);
  });
  for (const mark of plan.invoices) audit(context.logger, 'regularisation.recorded', { ...mark });
}

/**
 * One run of the policy: stops and destroys the instance trees of users with invoices unpaid past
 * its delays, restarts those it stopped whose user owes nothing past them any more, records on each
 * invoice what was done. With `dryRun`, only says what it would do.
 */
export async function regularise(
  context: ServiceContext,
  input: { policy: RegularisationPolicy; dryRun?: boolean },
): Promise<RegularisationReport> {
  const at = context.clock.now();
  const plan = await context.store.read((repository) => planRegularisation(repository, input.policy, at));
  const dryRun = input.dryRun === true;
  if (!dryRun) await carryOut(context, plan);
  return { at, dryRun, actions: plan.actions, invoices: plan.invoices };
}

/**
 * After a payment of `user`: restarts the trees the policy stopped, unless another unpaid invoice
 * of theirs on which the policy acted still holds them (the policy's delays are not needed here).
 */
export async function restartAfterPayment(
  context: ServiceContext,
  input: { user: string },
): Promise<RegularisationAction[]> {
  const plan = await context.store.read(async (repository): Promise<Plan> => {
    const planned: Plan = { actions: [], invoices: [], forgotten: [] };
    const unpaid = await unpaidInvoices(repository, input.user);
    const held = unpaid.some((invoice) => stageOf(invoice.regularisation) !== undefined);
    await planReleases(
      repository,
      await repository.listRegularisationStops({ owner: input.user }),
      () => held,
      planned,
    );
    return planned;
  });
  await carryOut(context, plan);
  return plan.actions;
}
