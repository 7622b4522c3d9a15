/**
 * What `slapos node software|instance|report|boot` share (and `node promise`, `askAgent`): their options (node.md §9.1), the order of
 * things before a pass (configuration, root check, random delay unless --now, pidfile lock, master
 * client) and the rendering of their progress events, one line each.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MasterClient } from '../client/master-client.ts';
import { SlapError } from '../core/errors.ts';
import { acquirePidLock, type PidLock } from '../lib/pid-lock.ts';
import type { AgentPassResult, AgentRequest } from '../node/agent/control.ts';
import type { Logger } from '../lib/logger.ts';
import { describeBuildoutEvent } from '../node/build-log.ts';
import { requireRootUnlessSandbox, type NodeConfig } from '../node/config.ts';
import type { NodeProgressEvent, NodeProgressListener } from '../node/pass.ts';
import type { CliContext } from './context.ts';
import { addNodeOptions, loadCliNodeConfig, type NodeCommandOptions } from './node-options.ts';

export interface PassCommandOptions extends NodeCommandOptions {
  now?: boolean;
  masterUrl?: string;
  computerId?: string;
  instanceRoot?: string;
  softwareRoot?: string;
  pidfile?: string;
  maximal_delay?: number;
  key_file?: string;
  cert_file?: string;
  master_ca_file?: string;
  certificate_repository_path?: string;
}

/** Options the original accepts and ignores (kept so that existing cron lines and scripts work). */
const IGNORED_OPTIONS = [
  '--supervisord-socket <path>',
  '--supervisord-configuration-path <path>',
  '--buildout <path>',
  '--signature_private_key_file <path>',
];

export function addPassOptions(command: Command): Command {
  addNodeOptions(command)
    .option('--now', 'start at once, without the random delay of maximal_delay')
    .option('--master-url <url>', 'the master (default: master_url of slapos.cfg)')
    .option('--computer-id <id>', 'this compute node (default: computer_id)')
    .option('--instance-root <dir>', 'default: instance_root')
    .option('--software-root <dir>', 'default: software_root')
    .option('--pidfile <path>', 'lock file of this command (default: pidfile_software/instance/report)')
    .option(
      '--maximal_delay <seconds>',
      'wait a random 1..N seconds before starting (default: maximal_delay of slapos.cfg)',
      nonNegativeInteger,
    )
    .option('--key_file <path>', "this node's key for the master (default: key_file)")
    .option('--cert_file <path>', "this node's certificate for the master (default: cert_file)")
    .option('--master_ca_file <path>', "CA that signs the master's certificate (default: master_ca_file)")
    .option(
      '--certificate_repository_path <dir>',
      "partitions' certificates (default: certificate_repository_path)",
    );
  for (const flags of IGNORED_OPTIONS) command.addOption(new Option(flags, 'ignored').hideHelp());
  return command;
}

function nonNegativeInteger(value: string): number {
  if (!/^\d+$/.test(value))
    throw new InvalidArgumentError(`expected a whole number of seconds, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** `--only-cp` (alias `--only`) and `--promise-timeout`, shared by `node instance` and `node promise`. */
export function addPartitionOptions(command: Command): Command {
  return command
    .option('--only-cp <ids>', 'only these partitions (comma-separated ids)')
    .addOption(new Option('--only <ids>', 'same as --only-cp').hideHelp())
    .option(
      '--promise-timeout <seconds>',
      'seconds allowed to each promise (default: promise_timeout, 20)',
      positiveInteger,
    );
}

export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

export interface PassEnvironment {
  config: NodeConfig;
  master: MasterClient;
  logger: Logger;
}

/**
 * Loads the configuration, checks the user, waits the random delay, takes the command's lock, opens
 * the master client, runs `work`, and always releases what it took.
 */
export async function runPassCommand<T>(
  ctx: CliContext,
  options: PassCommandOptions,
  command: {
    name: string;
    lock: 'pidfileSoftware' | 'pidfileInstance' | 'pidfileReport' | undefined;
    overrides?: Record<string, string | number | boolean | undefined>;
    /**
     * When the lock is held by a running node agent: what to ask it instead (it answers with the
     * result `work` would return), and where its progress goes.
     */
    delegate?: AgentDelegate;
  },
  work: (env: PassEnvironment) => Promise<T>,
): Promise<T> {
  const config = await loadCliNodeConfig(ctx, options, {
    master_url: options.masterUrl,
    computer_id: options.computerId,
    instance_root: options.instanceRoot,
    software_root: options.softwareRoot,
    maximal_delay: options.maximal_delay,
    key_file: options.key_file,
    cert_file: options.cert_file,
    master_ca_file: options.master_ca_file,
    certificate_repository_path: options.certificate_repository_path,
    ...command.overrides,
  });
  requireRootUnlessSandbox(config, command.name);
  if (!options.now && config.maximalDelay > 0) {
    const delay = 1 + Math.floor(Math.random() * config.maximalDelay);
    ctx.note(`Waiting ${delay} s before starting (maximal_delay; use --now to start at once).`);
    await sleep(delay * 1000);
  }
  let lock: PidLock | undefined;
  if (command.lock !== undefined) {
    const path = options.pidfile ?? config[command.lock];
    const taken = await lockOrAskAgent(ctx, config, path, command.name, command.delegate);
    if ('answer' in taken) return taken.answer as T;
    lock = taken.lock;
  }
  const logger = ctx.logger();
  try {
    const { createNodeMasterClient } = await import('../node/master.ts');
    const master = await createNodeMasterClient(config, { logger });
    try {
      if (config.certFile !== undefined) {
        const { checkNodeCertificate } = await import('../node/node-certificate.ts');
        await checkNodeCertificate(config, master, { now: Date.now() / 1000, logger });
      }
      return await work({ config, master, logger });
    } finally {
      await master.close();
    }
  } finally {
    await lock?.release();
  }
}

/** What to ask a node agent holding a pass's lock, and where its progress goes. */
export interface AgentDelegate {
  request: AgentRequest;
  onEvent?: NodeProgressListener | undefined;
}

/**
 * Takes the pidfile lock at `path`; when a node agent holds it and there is a `delegate`, asks the
 * agent to do the work instead and gives its answer (the lock error stands when no agent answers).
 */
export async function lockOrAskAgent(
  ctx: CliContext,
  config: NodeConfig,
  path: string,
  what: string,
  delegate: AgentDelegate | undefined,
): Promise<{ lock: PidLock } | { answer: AgentPassResult }> {
  try {
    return { lock: await acquirePidLock(path, { what }) };
  } catch (error) {
    if (delegate && error instanceof SlapError && error.code === 'SLAP_ERR_LOCKED')
      return { answer: await askAgent(ctx, config, delegate, error) };
    throw error;
  }
}

/**
 * Asks the node agent holding the lock to do the pass (control channel, docs/node-agent.md) and
 * waits for its result; when no agent answers, the lock error stands.
 */
async function askAgent(
  ctx: CliContext,
  config: NodeConfig,
  delegate: AgentDelegate,
  lockError: SlapError,
): Promise<AgentPassResult> {
  const { agentPaths } = await import('../node/agent/settings.ts');
  const { sendAgentRequest } = await import('../node/agent/control.ts');
  let connected = false;
  try {
    return await sendAgentRequest(agentPaths(config.instanceRoot).controlSocket, delegate.request, {
      onConnected: () => {
        connected = true;
        const pid = lockError.details?.pid;
        ctx.note(
          `A node agent is running${typeof pid === 'number' ? ` (pid ${pid})` : ''}: it does the work.`,
        );
      },
      ...(delegate.onEvent ? { onEvent: delegate.onEvent } : {}),
    });
  } catch (error) {
    if (!connected) throw lockError;
    throw error;
  }
}

/** Renders pass progress as lines on stderr; build output and routine lines only with -v. */
export class PassRenderer {
  constructor(
    private readonly ctx: CliContext,
    private readonly verbose: boolean,
  ) {}

  handle = (event: NodeProgressEvent): void => {
    const line = this.describe(event);
    if (line !== undefined) this.ctx.note(line);
  };

  private describe(event: NodeProgressEvent): string | undefined {
    switch (event.type) {
      case 'software':
        switch (event.action) {
          case 'building':
            return `Installing software release ${event.url}`;
          case 'available':
            return `Software release ${event.url} is available${event.message === undefined ? '' : ` (${event.message})`}.`;
          case 'up-to-date':
            return this.verbose ? `Software release ${event.url} is already installed.` : undefined;
          case 'destroyed':
            return `Removed software release ${event.url}.`;
          case 'kept':
            return `Software release ${event.url} is still used (${event.message ?? ''}): kept until its instances are destroyed.`;
          case 'failed':
            return `Software release ${event.url} failed: ${event.message ?? ''}`;
        }
        return undefined;
      case 'partition':
        switch (event.action) {
          case 'processing':
            return `${event.partitionId}: processing (${event.state ?? ''})`;
          case 'up-to-date':
            return this.verbose ? `${event.partitionId}: up to date` : undefined;
          case 'destroy-pending':
            return `${event.partitionId}: wiped; the master frees it once its instance tree has no children left`;
          case 'failed':
            return `${event.partitionId}: error: ${event.message ?? ''}`;
          case 'promise-failed':
            return `${event.partitionId}: a promise fails: ${event.message ?? ''}`;
          default:
            return `${event.partitionId}: ${event.action}`;
        }
      case 'buildout': {
        if (event.event.type === 'output' && !this.verbose) return undefined;
        const text = describeBuildoutEvent(event.event);
        return text === undefined ? undefined : `  ${text}`;
      }
      case 'promise':
        return event.failed || this.verbose
          ? `  ${event.partitionId}: promise ${event.title} ${event.failed ? 'FAILED' : 'OK'}: ${event.message}`
          : undefined;
      case 'usage':
        return this.verbose
          ? `${event.partitionId}: CPU ${event.cpuSeconds.toFixed(2)} s, memory ${mib(event.memoryBytes)}, disk ${mib(event.diskBytes)}`
          : undefined;
      case 'offline':
        return `The master cannot be reached (${event.message}): starting what was deployed.`;
      case 'step':
        return event.message;
    }
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The global `-v` count of a command. */
export function verbosity(command: Command): number {
  return command.optsWithGlobals<{ verbose?: number }>().verbose ?? 0;
}
