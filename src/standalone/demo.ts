/**
 * What `npm start` does (`slapos standalone demo`): start the standalone SlapOS, supply
 * `examples/hello`, request one instance with a `name`, follow the node agent's work (software
 * building, instance deploying, promises) and return the instance's connection parameters once its
 * URL answers `Hello <name>!`. A second run finds everything in place and returns at once.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request as httpRequest } from 'undici';
import { createMasterClient } from '../client/master-api.ts';
import { SlapError } from '../core/errors.ts';
import { readAccessTokenFile } from '../lib/access-token.ts';
import { packageRoot } from '../lib/package-root.ts';
import { readAgentStatus } from '../node/agent/settings.ts';
import { isLiveNodeProcess } from '../lib/pid-lock.ts';
import { standaloneLayout, type StandaloneLayout } from './layout.ts';
import { startStandalone, type StandaloneInfo, type StandaloneStep } from './standalone.ts';

export type DemoEvent =
  | { type: 'standalone'; step: StandaloneStep }
  | { type: 'supplied'; url: string }
  | { type: 'requested'; title: string; partitionId: string; name: string }
  | { type: 'software'; phase: string; message?: string }
  | { type: 'partition'; partitionId: string; phase: string; message?: string }
  | { type: 'waiting-url'; url: string };

export interface DemoOptions {
  /** The `name` parameter of the instance (default "World"). */
  name?: string;
  /** The instance's title (default "hello"). */
  title?: string;
  partitions?: number;
  onEvent?: (event: DemoEvent) => void;
  /** How long to wait for the instance (default 5 min). */
  timeoutMs?: number;
}

export interface DemoResult {
  standalone: StandaloneInfo;
  softwareUrl: string;
  title: string;
  partitionId: string;
  connectionParameters: Record<string, unknown>;
  /** What the instance's URL answered. */
  answer: string;
}

/** examples/hello/software.cfg of this package (an absolute path: a local software release). */
export function helloSoftwareUrl(): string {
  return join(packageRoot(), 'examples', 'hello', 'software.cfg');
}

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const response = await httpRequest(url, { signal: AbortSignal.timeout(2000) });
    const text = await response.body.text();
    return response.statusCode === 200 ? text : undefined;
  } catch {
    return undefined;
  }
}

/** A process of the standalone that is gone: which, its pid and where its log is. */
interface DeadProcess {
  name: string;
  pid: number;
  log: string;
}

/** The first of the master, the supervisor and the node agent that no longer runs, if any. */
function deadProcess(standalone: StandaloneInfo, layout: StandaloneLayout): DeadProcess | undefined {
  const processes: DeadProcess[] = [
    { name: 'the master', pid: standalone.pids.master, log: layout.masterLog },
    { name: 'the supervisor', pid: standalone.pids.supervisor, log: layout.supervisor.logFile },
    { name: 'the node agent', pid: standalone.pids.agent, log: layout.agentLog },
    ...(standalone.pids.cache === undefined
      ? []
      : [{ name: 'the binary cache server', pid: standalone.pids.cache, log: layout.cacheLog }]),
  ];
  return processes.find((process) => !isLiveNodeProcess(process.pid));
}

export async function runDemo(dir: string, options: DemoOptions = {}): Promise<DemoResult> {
  const emit = options.onEvent ?? (() => undefined);
  const name = options.name ?? 'World';
  const title = options.title ?? 'hello';
  const standalone = await startStandalone(dir, {
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    onStep: (step) => emit({ type: 'standalone', step }),
  });
  const softwareUrl = helloSoftwareUrl();
  const layout = standaloneLayout(standalone.dir);
  const client = createMasterClient({
    api: 'json',
    masterUrl: standalone.masterUrl,
    accessToken: await readAccessTokenFile(standalone.tokenFile),
  });
  // While it waits, a process of the standalone that dies is said at once, not after the timeout.
  let died: SlapError | undefined;
  const whichDied = (cause?: unknown): SlapError | undefined => {
    const dead = deadProcess(standalone, layout);
    died ??=
      dead &&
      new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `${dead.name} (pid ${dead.pid}) stopped while waiting for the instance ${title}`,
        {
          hint: `see its log ${dead.log}; \`slapos standalone start\` starts it again`,
          ...(cause === undefined ? {} : { cause }),
        },
      );
    return died;
  };
  try {
    await client.supply({ softwareReleaseUri: softwareUrl, computerGuid: standalone.computerGuid });
    emit({ type: 'supplied', url: softwareUrl });
    const instance = await client.requestInstance({
      title,
      softwareReleaseUri: softwareUrl,
      parameters: { name },
      slaParameters: { computer_guid: standalone.computerGuid },
    });
    const partitionId = instance.compute_partition_id;
    emit({ type: 'requested', title, partitionId, name });

    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    let softwarePhase = '';
    let partitionPhase = '';
    let waitingUrl = '';
    for (;;) {
      const death = whichDied();
      if (death) throw death;
      const status = await readAgentStatus(layout.agentStatusFile);
      const software = status?.software.find((item) => item.url === softwareUrl);
      if (software && software.phase !== softwarePhase) {
        softwarePhase = software.phase;
        emit({
          type: 'software',
          phase: software.phase,
          ...(software.error ? { message: software.error.message } : {}),
        });
        if (software.phase === 'failed')
          throw new SlapError(
            'SLAP_ERR_BUILDOUT_FAILED',
            `building ${softwareUrl} failed: ${software.error?.message ?? ''}`,
            {
              hint: `see ${layout.agentLog}; the node agent retries it`,
            },
          );
      }
      const partition = status?.partitions.find((item) => item.partitionId === partitionId);
      if (partition && partition.phase !== partitionPhase && partition.phase !== 'checking') {
        partitionPhase = partition.phase;
        emit({
          type: 'partition',
          partitionId,
          phase: partition.phase,
          ...(partition.error ? { message: partition.error.message } : {}),
        });
        if (partition.phase === 'failed')
          throw new SlapError(
            'SLAP_ERR_UNAVAILABLE',
            `deploying ${title} failed: ${partition.error?.message ?? ''}`,
            {
              hint: `see ${join(layout.instanceRoot, partitionId, '.slapgrid', 'log', 'instance.log')}; the node agent retries it`,
            },
          );
      }
      const current = await client.getInstance(instance.instance_guid);
      const url = current.connection_parameters.url;
      if (typeof url === 'string' && current.connection_parameters.name === `Hello ${name}!`) {
        if (url !== waitingUrl) {
          waitingUrl = url;
          emit({ type: 'waiting-url', url });
        }
        const answer = await fetchText(url);
        if (answer !== undefined && answer.trim() === `Hello ${name}!`)
          return {
            standalone,
            softwareUrl,
            title,
            partitionId,
            connectionParameters: current.connection_parameters,
            answer: answer.trim(),
          };
      }
      if (Date.now() > deadline)
        throw new SlapError('SLAP_ERR_TIMEOUT', `the instance ${title} did not answer in time`, {
          hint: `slapos standalone status --dir ${standalone.dir}; logs in ${layout.logDir}`,
        });
      await sleep(100);
    }
  } catch (error) {
    // A call that failed because a process died (the master's connection refused) says which one.
    throw whichDied(error) ?? error;
  } finally {
    await client.close();
  }
}
