/**
 * `slapos node run`: the long-running node agent (src/node/agent), until SIGTERM or SIGINT. It takes
 * the software, instance and report locks for its lifetime (one-shot `node software|instance|report`
 * runs would race with it), starts the supervisor if needed (unless
 * `forbid_supervisord_automatic_launch`), and keeps its status in
 * `<instance_root>/var/run/slapos-node-run.json`. Stopping it leaves the services running.
 */
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import { acquirePidLock, type PidLock } from '../../lib/pid-lock.ts';
import type { Logger } from '../../lib/logger.ts';
import { describeBuildoutEvent } from '../../node/build-log.ts';
import { NodeAgent } from '../../node/agent/agent.ts';
import { agentPaths, agentTimings } from '../../node/agent/settings.ts';
import { createNodeMasterClient } from '../../node/master.ts';
import { connectSupervisor } from '../../node/node-supervisor.ts';
import type { NodeProgressEvent } from '../../node/pass.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { DEFAULT_CONFIG_PATH } from '../../node/config.ts';
import { loadCliNodeConfig, type NodeCommandOptions } from '../node-options.ts';
import { watchStopSignals } from '../stop-signals.ts';

interface RunOptions extends NodeCommandOptions {
  masterUrl?: string;
  computerId?: string;
  pidfile?: string;
  grace?: string;
}

/** Pass progress as log records: what happens to each item at info, build output at debug. */
function logProgress(logger: Logger): (event: NodeProgressEvent) => void {
  return (event) => {
    switch (event.type) {
      case 'software':
        if (event.action !== 'up-to-date')
          logger[event.action === 'failed' ? 'warn' : 'info'](
            {
              software: event.url,
              action: event.action,
              ...(event.message ? { reason: event.message } : {}),
            },
            `software release ${event.action}`,
          );
        return;
      case 'partition':
        if (event.action !== 'up-to-date')
          logger[event.action === 'failed' || event.action === 'promise-failed' ? 'warn' : 'info'](
            {
              partition: event.partitionId,
              action: event.action,
              ...(event.message ? { reason: event.message } : {}),
            },
            `partition ${event.action}`,
          );
        return;
      case 'promise':
        if (event.failed)
          logger.warn(
            { partition: event.partitionId, promise: event.title, reason: event.message },
            'promise failed',
          );
        return;
      case 'buildout': {
        const text = describeBuildoutEvent(event.event);
        if (text !== undefined) logger.debug({ [event.scope]: event.target }, text);
        return;
      }
      default:
        return;
    }
  };
}

async function nodeRun(ctx: CliContext, options: RunOptions): Promise<void> {
  const config = await loadCliNodeConfig(ctx, options, {
    master_url: options.masterUrl,
    computer_id: options.computerId,
  });
  if (!config.sandbox && config.rootCheck && process.getuid?.() !== 0)
    throw new SlapError('SLAP_ERR_ROOT_REQUIRED', 'node run in system mode must run as root', {
      hint: 'run it as root, set sandbox = true for a single-user node, or root_check = false',
    });
  const graceMs = options.grace === undefined ? 10_000 : Number(options.grace) * 1000;
  if (!Number.isFinite(graceMs) || graceMs < 0)
    throw new SlapError('SLAP_ERR_USAGE', `--grace expects seconds, got ${JSON.stringify(options.grace)}`);
  const timings = agentTimings(config);
  const paths = agentPaths(config.instanceRoot);
  const logger = ctx.logger();
  // Stop signals are watched before anything starts, so that a stop during startup is graceful too.
  const stop = watchStopSignals();
  const locks: PidLock[] = [];
  try {
    locks.push(await acquirePidLock(options.pidfile ?? paths.pidFile, { what: 'node run' }));
    for (const [path, what] of [
      [config.pidfileSoftware, 'node software'],
      [config.pidfileInstance, 'node instance'],
      [config.pidfileReport, 'node report'],
    ] as const)
      locks.push(await acquirePidLock(path, { what }));
    const master = await createNodeMasterClient(config, { logger });
    try {
      const { client: supervisor } = await connectSupervisor(config);
      const agent = new NodeAgent(config, {
        master,
        supervisor,
        ensureSupervisor: async () => {
          await connectSupervisor(config);
        },
        logger,
        onProgress: logProgress(logger),
        statusFile: paths.statusFile,
        ...timings,
      });
      logger.info(
        { computerId: config.computerId, masterUrl: config.masterUrl, pid: process.pid },
        'node agent starting',
      );
      await agent.start();
      const signal = await Promise.race([stop.stopped, agent.finished().then(() => undefined)]);
      logger.info({ signal }, 'node agent stopping');
      await agent.close({ graceMs });
    } finally {
      await master.close();
    }
  } finally {
    stop.dispose();
    for (const lock of locks.reverse()) await lock.release();
  }
}

export function registerNodeRun(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node', 'run the node: format, software, instance, promises, …')
    .command('run')
    .description(
      'run the node agent: build software, deploy instances and report as the master asks, woken by its ' +
        'change stream within milliseconds; stops on SIGTERM or SIGINT, leaving the services running',
    )
    .option('--master-url <url>', 'the master (default: master_url of slapos.cfg)')
    .option('--computer-id <id>', 'this compute node (default: computer_id)')
    .option(
      '--pidfile <path>',
      'pid file of the agent (default: <instance_root>/var/run/slapos-node-run.pid)',
    )
    .option(
      '--grace <seconds>',
      'on SIGTERM, let running passes finish this long before aborting them',
      '10',
    );
  command
    .option(
      '--cfg <path>',
      `node configuration file (default: $SLAPOS_CONFIGURATION or ${DEFAULT_CONFIG_PATH})`,
    )
    .action(async (options: RunOptions) => {
      await nodeRun(ctx, options);
    });
}
