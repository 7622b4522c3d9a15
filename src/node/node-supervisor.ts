/**
 * The node's supervisor as the passes use it: started on demand (unless
 * `forbid_supervisord_automatic_launch`) with the watchdog as its exit notifier, so that a crashed
 * service bangs its instance (node.md §7.4): the daemon runs `<instance_root>/etc/slapos-watchdog`
 * (a wrapper around `slapos node watchdog --cfg <slapos.cfg>`) with the event on its stdin.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { slaposBinPath } from '../lib/package-root.ts';
import type { NodeConfig } from './config.ts';
import { SupervisorClient } from './supervisor/client.ts';
import { launchSupervisorDaemon } from './supervisor/launch.ts';
import { supervisorPaths } from './supervisor/paths.ts';

export const WATCHDOG_COMMAND = join('etc', 'slapos-watchdog');

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Writes (only when it changes) the watchdog wrapper for this configuration; returns its path. */
export async function writeWatchdogCommand(input: {
  configFile: string;
  instanceRoot: string;
}): Promise<string> {
  const path = join(input.instanceRoot, WATCHDOG_COMMAND);
  const text = [
    '#!/bin/sh',
    '# Written by slapos: the supervisor runs it when a service exits; it bangs the instance.',
    `exec ${[process.execPath, slaposBinPath(), 'node', 'watchdog', '--cfg', input.configFile].map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
  if ((await readFile(path, 'utf8').catch(() => undefined)) !== text) {
    await mkdir(join(input.instanceRoot, 'etc'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, text, { mode: 0o700 });
  }
  return path;
}

/**
 * A client of the node's supervisor, launched first if needed and allowed. Returns whether this call
 * started it.
 */
export async function connectSupervisor(
  config: NodeConfig,
  options: { timeoutMs?: number } = {},
): Promise<{ client: SupervisorClient; launched: boolean }> {
  const paths = supervisorPaths(config.instanceRoot);
  let launched = false;
  if (!config.forbidSupervisordAutomaticLaunch) {
    const notifyCommand = await writeWatchdogCommand({
      configFile: config.file,
      instanceRoot: config.instanceRoot,
    });
    launched = !(
      await launchSupervisorDaemon({
        ...paths,
        notifyCommand,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      })
    ).alreadyRunning;
  }
  return { client: new SupervisorClient({ socketPath: paths.socket }), launched };
}
