/**
 * A partition's `buildout.cfg`: the software release's `instance.cfg` followed by the tail the node
 * appends (node.md §4.4), through which the instance profile learns who and where it is — the
 * `[slap-connection]` section the cookbook recipes (slapconfiguration, request, publish) read.
 */
import type { MasterApi } from '../../core/master-apis.ts';
import { profileListOption, profileOption } from '../../buildout/profile-text.ts';

export interface InstanceTailInput {
  computerId: string;
  partitionId: string;
  /** The node's master URL (`master_url`). */
  serverUrl: string;
  softwareReleaseUrl: string;
  /** The partition's key and certificate (empty when there is no certificate repository). */
  keyFile: string;
  certFile: string;
  /**
   * The CA of the master's certificate (`master_ca_file`), for the recipes that talk to the master
   * as the instance (our extension: `master-ca-file`, written only when the node has one).
   */
  masterCaFile?: string | undefined;
  /**
   * The API the node speaks to the master (`master_api`), so that the recipes request children the
   * same way (our extension: `master-api`, written only when it is not the default, auto).
   */
  masterApi?: MasterApi | undefined;
  sharedPartList: readonly string[];
  buildTimePartList: readonly string[];
  requestedState: string;
  storageHome: string;
  globalIpv4Network: string;
}

export const TAIL_BEGIN = "# This is beginning of zc.buildout profile's tail added by slapgrid";
export const TAIL_END = "# This is end of zc.buildout profile's tail added by slapgrid";

/**
 * `key = value`; list values go on continuation lines indented by two spaces. Values come from the
 * master and the node's configuration: one that a profile cannot hold exactly is refused.
 */
function option(key: string, value: string | readonly string[]): string {
  return typeof value === 'string' ? profileOption(key, value) : profileListOption(key, value);
}

export function instanceBuildoutTail(input: InstanceTailInput): string {
  return [
    TAIL_BEGIN,
    '[buildout]',
    '# put buildout generated binaries in specific directory',
    'bin-directory = ${buildout:directory}/sbin',
    '',
    '# protect software and run parts offline',
    option('offline', 'true'),
    '',
    '[slap-connection]',
    option('computer-id', input.computerId),
    option('partition-id', input.partitionId),
    option('server-url', input.serverUrl),
    option('software-release-url', input.softwareReleaseUrl),
    option('key-file', input.keyFile),
    option('cert-file', input.certFile),
    ...(input.masterCaFile === undefined ? [] : [option('master-ca-file', input.masterCaFile)]),
    ...(input.masterApi === undefined || input.masterApi === 'auto'
      ? []
      : [option('master-api', input.masterApi)]),
    option('shared-part-list', input.sharedPartList),
    option('build-time-part-list', input.buildTimePartList),
    option('requested-state', input.requestedState),
    '',
    '[slap_connection]',
    '# Kept for backward compatibility',
    option('computer_id', input.computerId),
    option('partition_id', input.partitionId),
    option('server_url', input.serverUrl),
    option('software_release_url', input.softwareReleaseUrl),
    option('key_file', input.keyFile),
    option('cert_file', input.certFile),
    '',
    '[storage-configuration]',
    option('storage-home', input.storageHome),
    '',
    '[network-information]',
    option('global-ipv4-network', input.globalIpv4Network),
    TAIL_END,
    '',
  ].join('\n');
}

/** The instance profile as the original writes it: the template, a blank line, the tail. */
export function instanceProfile(template: string, tail: string): string {
  return `${template}\n\n${tail}`;
}
