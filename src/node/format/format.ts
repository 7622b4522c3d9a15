/**
 * `slapos node format`: load the previous state, look at the host, compute the desired layout, plan
 * the differences, apply them, persist the state, then send the description to the master.
 * Idempotent: a second run plans nothing (it only reads the host) and re-sends the description.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Logger } from '../../lib/logger.ts';
import { silentLogger } from '../../lib/logger.ts';
import { formatConfig, requireRootUnlessSandbox, type NodeConfig } from '../config.ts';
import { applyFormatPlan } from './apply.ts';
import { Host, type HostAddress } from './host.ts';
import { computeLayout, type ComputeNodeLayout } from './layout.ts';
import { observeHost } from './observe.ts';
import { formatPayload, type ComputeNodeFormatRequest, type ComputeNodeRegistrar } from './payload.ts';
import { describeAction, planFormat, type FormatAction } from './plan.ts';
import { loadFormatState, saveFormatState, stateFilePath, type FormatState } from './state.ts';

export interface FormatComputeNodeOptions {
  /** Receives the description; not called in dry-run mode. */
  registrar: ComputeNodeRegistrar;
  /** Plan only: change nothing, send nothing. */
  dryRun?: boolean;
  /** Host access (network namespace, exec, passwd files); default: this host. */
  host?: Host;
  logger?: Logger;
  signal?: AbortSignal;
  /** Default: whether this process runs as root. */
  isRoot?: boolean;
  /** Default: the user running this process. */
  currentUser?: string;
  /** Default: read from /proc/net/if_inet6. */
  ipv6Loopback?: boolean;
  /** Progress: each applied action. */
  onApplied?: (action: FormatAction) => void;
  env?: NodeJS.ProcessEnv;
}

export interface FormatResult {
  readonly mode: ComputeNodeLayout['mode'];
  readonly dryRun: boolean;
  readonly statePath: string;
  readonly layout: ComputeNodeLayout;
  /** What was (or, in dry-run mode, would be) changed; empty when the host already matched. */
  readonly actions: readonly FormatAction[];
  readonly payload: ComputeNodeFormatRequest;
  /** Whether the master accepted the description. */
  readonly posted: boolean;
  /** Why it was not sent (the local work is done: "offline success", exit code 2). */
  readonly postError: string | undefined;
}

export async function formatComputeNode(
  config: NodeConfig,
  options: FormatComputeNodeOptions,
): Promise<FormatResult> {
  const logger = options.logger ?? silentLogger();
  const format = formatConfig(config, options.env);
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  requireRootUnlessSandbox(config, 'node format', isRoot);
  const host = options.host ?? new Host({ logger, signal: options.signal });
  const statePath = stateFilePath(config.instanceRoot);
  const previous = await loadFormatState(statePath);
  if (previous && previous.computer_id !== config.computerId)
    logger.warn(
      { previous: previous.computer_id, now: config.computerId },
      'format: computer_id changed since the last format',
    );

  const hostAddresses = await readHostAddresses(
    config.sandbox,
    format.alterNetwork,
    format.ipv6Interface,
    host,
    logger,
  );
  const layout = computeLayout({
    config,
    format,
    previous,
    hostAddresses,
    ipv6Loopback: options.ipv6Loopback ?? (await hasIpv6Loopback()),
    currentUser: options.currentUser ?? userInfo().username,
  });
  const observed = await observeHost(layout, host, { addresses: hostAddresses });
  const actions = planFormat(layout, observed);
  const payload = formatPayload(layout);
  const dryRun = options.dryRun ?? false;
  logger.info(
    { mode: layout.mode, partitions: layout.partitions.length, changes: actions.length, dryRun },
    'format: plan',
  );
  const result = (postError: string | undefined): FormatResult => ({
    mode: layout.mode,
    dryRun,
    statePath,
    layout,
    actions,
    payload,
    posted: !dryRun && postError === undefined,
    postError,
  });
  if (dryRun) return result(undefined);

  // The allocation is persisted first: a run that fails half-way keeps these addresses next time.
  const state = stateOf(layout);
  if (JSON.stringify(state) !== JSON.stringify(previous)) await saveFormatState(statePath, state);
  await applyFormatPlan(actions, host, {
    onApplied: (action) => {
      logger.info({ action: action.kind }, `format: ${describeAction(action)}`);
      options.onApplied?.(action);
    },
  });
  let postError: string | undefined;
  try {
    await options.registrar.format(
      payload.computer_guid,
      payload.compute_partition_list,
      options.signal ? { signal: options.signal } : {},
    );
  } catch (error) {
    postError = error instanceof Error ? error.message : String(error);
    logger.warn({ error: postError }, 'format: the master did not accept the compute node description');
  }
  return result(postError);
}

function stateOf(layout: ComputeNodeLayout): FormatState {
  return {
    version: 1,
    computer_id: layout.computerId,
    mode: layout.mode,
    ...(layout.address === undefined ? {} : { address: layout.address }),
    partitions: layout.partitions.map((partition) => ({
      reference: partition.reference,
      ...(layout.mode === 'system' ? { user: partition.user.name } : {}),
      addresses: partition.addresses,
      ...(partition.ipv6Range === undefined ? {} : { ipv6_range: partition.ipv6Range }),
    })),
  };
}

/**
 * System mode with alter_network needs the host's addresses. Sandbox mode only looks for a global
 * IPv6 on a configured ipv6_interface, and does without when `ip` is missing or fails.
 */
async function readHostAddresses(
  sandbox: boolean,
  alterNetwork: boolean,
  ipv6Interface: string | undefined,
  host: Host,
  logger: Logger,
): Promise<HostAddress[]> {
  if (!sandbox) return alterNetwork ? host.addresses() : [];
  if (ipv6Interface === undefined) return [];
  try {
    return await host.addresses();
  } catch (error) {
    logger.warn({ error: (error as Error).message }, 'format: cannot list addresses; partitions get ::1');
    return [];
  }
}

/** `::1` on `lo` (IPv6 may be disabled); read from /proc, no process. */
async function hasIpv6Loopback(): Promise<boolean> {
  try {
    const text = await readFile('/proc/net/if_inet6', 'utf8');
    return text.split('\n').some((line) => line.startsWith('00000000000000000000000000000001 '));
  } catch {
    return false;
  }
}
