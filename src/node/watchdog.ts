/**
 * The watchdog (node.md §7.4): when a watched service (`etc/service`, program `<name>-on-watch`)
 * exits, bang its instance so that the master has the partition processed again — at most once per
 * successful deployment: `.slapos_latest_bang_timestamp` keeps the `.timestamp` it banged for, and
 * the next bang waits for a newer deployment. Markers are compared as strings (the original parses
 * them as integers, which fails with slapproxy's float timestamps, node.md §11.3).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { NodeConfig } from './config.ts';
import { readPartitionRecord, TIMESTAMP_FILE } from './instance/partition-files.ts';
import type { NodeMaster } from './pass.ts';

export const LATEST_BANG_FILE = '.slapos_latest_bang_timestamp';
export const WATCHED_SUFFIX = '-on-watch';

/** What the supervisor's notifier sends on stdin (`UnexpectedExitInfo` plus group and program). */
export interface ServiceExitEvent {
  group: string;
  program: string;
  state?: string;
  exitCode?: number | null;
  exitSignal?: string | null;
  message?: string;
}

export interface WatchdogResult {
  banged: boolean;
  reason: string;
  message?: string;
}

export function parseServiceExitEvent(text: string): ServiceExitEvent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'the watchdog expects the event as JSON on its stdin');
  }
  const event = value as Partial<ServiceExitEvent> | null;
  if (typeof event?.group !== 'string' || typeof event.program !== 'string')
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'the event has no group and program');
  return event as ServiceExitEvent;
}

export async function handleServiceExit(
  config: NodeConfig,
  event: ServiceExitEvent,
  options: { master: NodeMaster; logger?: Logger; signal?: AbortSignal },
): Promise<WatchdogResult> {
  const logger = options.logger ?? silentLogger();
  if (!event.program.endsWith(WATCHED_SUFFIX)) return { banged: false, reason: 'not a watched service' };
  if (!/^[A-Za-z0-9_.@+-]+$/.test(event.group)) return { banged: false, reason: 'not a partition' };
  const path = join(config.instanceRoot, event.group);
  if (!(await stat(path).catch(() => undefined))?.isDirectory())
    return { banged: false, reason: 'not a partition' };
  const deployed = await readText(join(path, TIMESTAMP_FILE));
  const banged = await readText(join(path, LATEST_BANG_FILE));
  if (banged !== undefined && deployed === undefined)
    return { banged: false, reason: 'already banged; not deployed successfully since' };
  if (banged !== undefined && banged === deployed)
    return { banged: false, reason: 'already banged for this deployment' };

  const call = options.signal ? { signal: options.signal } : {};
  const instanceGuid =
    (await readPartitionRecord(path))?.instanceGuid ??
    (
      await options.master.getComputePartition(
        { computerGuid: config.computerId, partitionId: event.group },
        call,
      )
    ).instance_guid;
  const status =
    event.exitSignal != null
      ? `killed by signal ${event.exitSignal}`
      : event.exitCode != null
        ? `exited with status ${event.exitCode}`
        : event.state === 'FATAL'
          ? 'could not be started'
          : 'exited';
  const message = `${event.program} process in partition ${event.group} encountered a problem (${status})`;
  await options.master.bang({ instanceGuid, message }, call);
  await writeFileAtomic(join(path, LATEST_BANG_FILE), deployed ?? '0', { mode: 0o644, mkdirs: false });
  logger.info({ partition: event.group, program: event.program, instance: instanceGuid }, message);
  return { banged: true, reason: 'banged', message };
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}
