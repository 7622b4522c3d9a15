/**
 * What slapgrid does around an instance profile (node.md §4.4), for tests of instance profiles:
 * the tail appended to the rendered `instance.cfg` (`[slap-connection]` and friends), and a
 * partition directory prepared with it. The node's own version lives in src/node.
 */
import { chmod, copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

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
    '# beginning of zc.buildout profile\'s tail added by slapgrid',
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
    '# end of zc.buildout profile\'s tail added by slapgrid',
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

/** Copies a file (test fixtures into a software directory). */
export async function copyInto(source: string, directory: string, name: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  await copyFile(source, join(directory, name));
}
