/**
 * Partitions for the backup agent's tests with real restic (src/node/backup/*-restic.test.ts): a
 * partition directory with its record and `srv/data`, executable scripts in its `bin/`, services
 * that never run, and a backup plan of `srv/data` (period 1 h, retention 10/24/7).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PartitionBackupPlan } from '../core/backup-declaration.ts';
import type { PartitionServices } from '../node/backup/agent.ts';
import { writePartitionRecord } from '../node/instance/partition-files.ts';

/** Services that are never running (stop and start do nothing). */
export const stoppedServices: PartitionServices = {
  stop: () => Promise.resolve(),
  start: () => Promise.resolve(),
  runningPartitions: () => Promise.resolve(new Set()),
};

/** `<instanceRoot>/slappart0`, holding the instance `guid`, with `srv/data/` and `bin/`. */
export async function backupTestPartition(instanceRoot: string, guid: string): Promise<string> {
  const root = join(instanceRoot, 'slappart0');
  await mkdir(join(root, 'srv', 'data'), { recursive: true });
  await mkdir(join(root, 'bin'), { recursive: true });
  await writeFile(join(root, '.slapos-resource'), '{}');
  await writePartitionRecord(root, {
    instanceGuid: guid,
    title: guid,
    requestedState: 'started',
    softwareReleaseUrl: 'http://sr/',
    reported: 'started',
  });
  return root;
}

/** `<root>/bin/<name>`: a `sh -e` script running `body`, from the partition's root. */
export async function partitionScript(root: string, name: string, body: string): Promise<string> {
  const path = join(root, 'bin', name);
  await writeFile(path, `#!/bin/sh\nset -e\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

/** A plan of `srv/data`, with these commands. */
export function dataPlan(commands: Partial<PartitionBackupPlan> = {}): PartitionBackupPlan {
  return {
    paths: ['srv/data'],
    exclude: [],
    backupCommands: [],
    restoreCommands: [],
    checkCommands: [],
    periodSeconds: 3600,
    keep: { last: 10, hourly: 24, daily: 7 },
    ...commands,
  };
}
