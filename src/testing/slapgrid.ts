/**
 * What slapgrid does around an instance profile (node.md §4.4), for tests of instance profiles:
 * the tail appended to the rendered `instance.cfg` (`[slap-connection]` and friends), and a
 * partition directory prepared with it. The tail itself is the node's (src/node/instance/buildout-tail.ts).
 */
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Instance } from '../client/types.ts';
import { instanceBuildoutTail, instanceProfile } from '../node/instance/buildout-tail.ts';
import { tempDir, type TempDir } from './buildout.ts';
import { startMasterWithNode, type MasterWithNode } from './master-with-node.ts';

export interface SlapgridTailOptions {
  computerId: string;
  partitionId: string;
  serverUrl: string;
  softwareReleaseUrl: string;
  keyFile?: string;
  certFile?: string;
  sharedPartList?: readonly string[];
  buildTimePartList?: readonly string[];
  requestedState?: 'started' | 'stopped' | 'destroyed';
  storageHome?: string;
  globalIpv4Network?: string;
}

/** The text slapgrid appends to an instance profile (the node's own tail, with defaults). */
export function slapgridTail(options: SlapgridTailOptions): string {
  return instanceBuildoutTail({
    computerId: options.computerId,
    partitionId: options.partitionId,
    serverUrl: options.serverUrl,
    softwareReleaseUrl: options.softwareReleaseUrl,
    keyFile: options.keyFile ?? '',
    certFile: options.certFile ?? '',
    sharedPartList: options.sharedPartList ?? [],
    buildTimePartList: options.buildTimePartList ?? [],
    requestedState: options.requestedState ?? 'started',
    storageHome: options.storageHome ?? '',
    globalIpv4Network: options.globalIpv4Network ?? '',
  });
}

export interface PreparePartitionOptions extends SlapgridTailOptions {
  /** The partition directory (created, mode 0750). */
  partitionDir: string;
  /** The software release's directory, holding `instance.cfg`. */
  softwareDir: string;
}

/**
 * Prepares a partition as slapgrid does before running buildout in it: `software_release` linked to
 * the software directory, `buildout.cfg` = `<software>/instance.cfg` + two newlines + the tail.
 * Returns the path of `buildout.cfg`.
 */
export async function preparePartition(options: PreparePartitionOptions): Promise<string> {
  await mkdir(options.partitionDir, { recursive: true });
  await chmod(options.partitionDir, 0o750);
  const link = join(options.partitionDir, 'software_release');
  await rm(link, { force: true });
  await symlink(options.softwareDir, link);
  const template = await readFile(join(options.softwareDir, 'instance.cfg'), 'utf8');
  const profile = join(options.partitionDir, 'buildout.cfg');
  await writeFile(profile, instanceProfile(template, slapgridTail(options)), { mode: 0o640 });
  return profile;
}

export interface InstanceFixture {
  env: MasterWithNode;
  /** The instance requested, allocated on `partitionId`. */
  instance: Instance;
  partitionId: string;
  /** A temporary directory standing for the partition. */
  dir: TempDir;
  /** The slapgrid tail of that partition (profiles under test append it). */
  tail: string;
  softwareReleaseUrl: string;
  close(): Promise<void>;
}

/**
 * A real master with a formatted compute node `computer` (3 partitions, 127.0.1.N on lo), an
 * instance requested on it, and a temporary partition directory with its slapgrid tail.
 */
export async function instanceFixture(
  options: { title?: string; softwareType?: string; parameters?: Record<string, unknown> } = {},
): Promise<InstanceFixture> {
  const env = await startMasterWithNode({ computerGuid: 'computer', partitions: 3 });
  const softwareReleaseUrl = 'http://sr.example/software.cfg';
  try {
    const instance = await env.client.requestInstance({
      title: options.title ?? 'my-instance',
      softwareReleaseUri: softwareReleaseUrl,
      softwareType: options.softwareType ?? 'default',
      parameters: options.parameters ?? {},
    });
    const dir = await tempDir('slapos-partition-');
    const partitionId = instance.compute_partition_id;
    return {
      env,
      instance,
      partitionId,
      dir,
      tail: slapgridTail({ computerId: 'computer', partitionId, serverUrl: env.url, softwareReleaseUrl }),
      softwareReleaseUrl,
      async close() {
        await dir.remove();
        await env.close();
      },
    };
  } catch (error) {
    await env.close();
    throw error;
  }
}
