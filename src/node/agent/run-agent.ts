/**
 * The agent as a process: takes the locks (its own pid file, and the software, instance and report
 * locks, since one-shot `node software|instance|report` runs would race with it), opens the master
 * client, starts the supervisor if needed (unless `forbid_supervisord_automatic_launch`), runs the
 * agent until `stop` resolves, then closes it (services keep running) and releases everything. Used
 * by `slapos node run` and by the lean entry point agent-main.ts.
 */
import { systemClock } from '../../core/clock.ts';
import { acquirePidLock, type PidLock } from '../../lib/pid-lock.ts';
import type { Logger } from '../../lib/logger.ts';
import { describeBuildoutEvent } from '../build-log.ts';
import { requireRootUnlessSandbox, type NodeConfig } from '../config.ts';
import { createNodeMasterClient } from '../master.ts';
import { connectSupervisor } from '../node-supervisor.ts';
import type { NodeProgressEvent } from '../pass.ts';
import type { NodeBackup } from '../backup/start.ts';
import { NodeAgent } from './agent.ts';
import { startControlServer } from './control.ts';
import { agentPaths, agentTimings, nodeMetricsSettings } from './settings.ts';

export interface RunAgentOptions {
  logger: Logger;
  /** Resolves when the agent must stop (a signal). */
  stop: Promise<unknown>;
  /** Default: <instance_root>/var/run/slapos-node-run.pid. */
  pidFile?: string;
  /** How long running passes may finish on stop (default 10 s). */
  graceMs?: number;
}

/** Pass progress as log records: what happens to each item at info, build output at debug. */
export function logProgress(logger: Logger): (event: NodeProgressEvent) => void {
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

export async function runAgentProcess(config: NodeConfig, options: RunAgentOptions): Promise<void> {
  const { logger } = options;
  requireRootUnlessSandbox(config, 'node run');
  const timings = agentTimings(config);
  const metricsSettings = nodeMetricsSettings(config);
  const paths = agentPaths(config.instanceRoot);
  const locks: PidLock[] = [];
  try {
    locks.push(await acquirePidLock(options.pidFile ?? paths.pidFile, { what: 'node run' }));
    for (const [path, what] of [
      [config.pidfileSoftware, 'node software'],
      [config.pidfileInstance, 'node instance'],
      [config.pidfileReport, 'node report'],
    ] as const)
      locks.push(await acquirePidLock(path, { what }));
    const master = await createNodeMasterClient(config, { logger });
    // Master mode: the node's certificate is renewed before it expires, while the agent runs.
    const certificate =
      config.certFile === undefined
        ? undefined
        : (await import('../node-certificate.ts')).keepNodeCertificateRenewed(config, master, {
            clock: systemClock,
            logger,
          });
    try {
      const { client: supervisor } = await connectSupervisor(config);
      // prom-client is loaded only when metrics are asked for.
      const served =
        metricsSettings &&
        (await (await import('./metrics.ts')).serveAgentMetrics(metricsSettings, { supervisor, logger }));
      let backup: NodeBackup | undefined;
      try {
        // Backups beside the passes ([backup], src/node/backup/): a partition is settled before it starts.
        backup = await (
          await import('../backup/start.ts')
        ).startNodeBackup(config, { master, supervisor, logger });
        const backupAgent = backup.agent;
        const agent = new NodeAgent(config, {
          master,
          supervisor,
          settle: (partitionId) => backupAgent.settle(partitionId),
          ensureSupervisor: async () => {
            await connectSupervisor(config);
          },
          logger,
          onProgress: logProgress(logger),
          statusFile: paths.statusFile,
          ...timings,
          ...(served ? { onPass: served.metrics.observePass } : {}),
        });
        served?.metrics.attach(agent);
        logger.info(
          { computerId: config.computerId, masterUrl: config.masterUrl, pid: process.pid },
          'node agent starting',
        );
        await agent.start();
        // Without it, node commands fail on the lock as before: said, not fatal.
        const control = await startControlServer(
          paths.controlSocket,
          (request, onEvent, signal) => agent.request(request, onEvent, signal),
          { logger },
        ).catch((error: unknown) => {
          logger.warn({ err: error }, 'no control channel: node commands cannot ask this agent');
          return undefined;
        });
        try {
          const signal = await Promise.race([options.stop, agent.finished().then(() => undefined)]);
          logger.info({ signal }, 'node agent stopping');
        } finally {
          await control?.close();
        }
        await agent.close({ graceMs: options.graceMs ?? 10_000 });
      } finally {
        await backup?.close({ graceMs: options.graceMs ?? 10_000 });
        await served?.close();
      }
    } finally {
      await certificate?.stop();
      await master.close();
    }
  } finally {
    for (const lock of locks.reverse()) await lock.release();
  }
}
