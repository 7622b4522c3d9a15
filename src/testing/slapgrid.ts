/**
 * What slapgrid does around an instance profile (node.md §4.4), for tests of instance profiles:
 * the tail appended to the rendered `instance.cfg` (`[slap-connection]` and friends), and a
 * partition directory prepared with it. The node's own version lives in src/node.
 */
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Instance } from '../client/types.ts';
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

function block(values: readonly string[] | undefined): string {
  return (values ?? []).map((value) => `\n  ${value}`).join('');
}

/** The text slapgrid appends to an instance profile. */
export function slapgridTail(options: SlapgridTailOptions): string {
  const connection = {
    'computer-id': options.computerId,
    'partition-id': options.partitionId,
    'server-url': options.serverUrl,
    'software-release-url': options.softwareReleaseUrl,
    'key-file': options.keyFile ?? '',
    'cert-file': options.certFile ?? '',
  };
  const lines = [
    "# beginning of zc.buildout profile's tail added by slapgrid",
    '[buildout]',
    'bin-directory = ${buildout:directory}/sbin',
    'offline = true',
    '',
    '[slap-connection]',
    ...Object.entries(connection).map(([key, value]) => `${key} = ${value}`),
    `shared-part-list =${block(options.sharedPartList)}`,
    `build-time-part-list =${block(options.buildTimePartList)}`,
    `requested-state = ${options.requestedState ?? 'started'}`,
    '',
    '[slap_connection]',
    ...Object.entries(connection).map(([key, value]) => `${key.replaceAll('-', '_')} = ${value}`),
    '',
    '[storage-configuration]',
    `storage-home = ${options.storageHome ?? ''}`,
    '',
    '[network-information]',
    `global-ipv4-network = ${options.globalIpv4Network ?? ''}`,
    "# end of zc.buildout profile's tail added by slapgrid",
    '',
  ];
  return lines.join('\n');
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
  await writeFile(profile, `${template}\n\n${slapgridTail(options)}`, { mode: 0o640 });
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
