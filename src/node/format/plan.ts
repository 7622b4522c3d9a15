/**
 * Plan: the differences between the desired layout and what the host has, as an ordered list of
 * actions. Applying the plan twice in a row gives an empty second plan (idempotency).
 */
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import type { HostAddress, UnixGroup, UnixUser } from './host.ts';
import type { ComputeNodeLayout, PartitionLayout } from './layout.ts';
import { cidrText, parseCidr } from './ip.ts';

export const PARTITION_MODE = 0o750;
export const ROOT_MODE = 0o755;
/**
 * Others may traverse but not list it: each partition's user reaches its own `<partition>.key|.crt`
 * (0600, owned by that user) by name, and sees nobody else's.
 */
export const CERTIFICATE_REPOSITORY_MODE = 0o711;
export const RESOURCE_FILE_NAME = '.slapos-resource';

export type FormatAction =
  | { readonly kind: 'mkdir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'chmod'; readonly path: string; readonly mode: number }
  | { readonly kind: 'chown'; readonly path: string; readonly user: string; readonly group: string }
  | { readonly kind: 'groupadd'; readonly group: string }
  | {
      readonly kind: 'useradd';
      readonly user: string;
      readonly home: string;
      readonly group: string;
      readonly groups: readonly string[];
      readonly shell: string;
    }
  | {
      readonly kind: 'usermod';
      readonly user: string;
      readonly home: string;
      readonly group: string;
      readonly groups: readonly string[];
      readonly shell: string;
    }
  | { readonly kind: 'sysctl'; readonly key: string; readonly value: string }
  | {
      readonly kind: 'address';
      readonly address: string;
      readonly prefixLength: number;
      readonly interface: string;
    }
  | { readonly kind: 'local-route'; readonly network: string }
  | { readonly kind: 'resource-file'; readonly path: string; readonly content: string };

export interface PathInfo {
  readonly isDirectory: boolean;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** What the host has, as far as the layout is concerned. */
export interface Observation {
  readonly paths: ReadonlyMap<string, PathInfo | undefined>;
  readonly files: ReadonlyMap<string, string | undefined>;
  readonly users: ReadonlyMap<string, UnixUser>;
  readonly groups: ReadonlyMap<string, UnixGroup>;
  readonly addresses: readonly HostAddress[];
  readonly localRoutes: ReadonlySet<string>;
  readonly nonlocalBind: string | undefined;
}

export function resourceFilePath(partition: PartitionLayout): string {
  return join(partition.path, RESOURCE_FILE_NAME);
}

/** Paths whose state the plan needs (directories) and files whose content it compares. */
export function pathsToObserve(layout: ComputeNodeLayout): { dirs: string[]; files: string[] } {
  const dirs = [layout.instanceRoot, layout.softwareRoot, ...layout.partitions.map((p) => p.path)];
  if (layout.certificateRepositoryPath !== undefined) dirs.push(layout.certificateRepositoryPath);
  return { dirs, files: layout.partitions.map(resourceFilePath) };
}

export function planFormat(layout: ComputeNodeLayout, observed: Observation): FormatAction[] {
  const actions: FormatAction[] = [];
  const system = layout.mode === 'system';
  const owner = (user: string): { uid: number; gid: number } | undefined => {
    const entry = observed.users.get(user);
    const group = observed.groups.get(user);
    return entry && group ? { uid: entry.uid, gid: group.gid } : undefined;
  };

  const directory = (path: string, mode: number, user?: string): void => {
    const info = observed.paths.get(path);
    if (info !== undefined && !info.isDirectory)
      throw new SlapError('SLAP_ERR_CONFLICT', `${path} exists and is not a directory`, {
        hint: 'move it away, then format again',
      });
    if (info === undefined) actions.push({ kind: 'mkdir', path, mode });
    else if ((info.mode & 0o7777) !== mode) actions.push({ kind: 'chmod', path, mode });
    if (user === undefined) return;
    const expected = owner(user);
    if (
      info === undefined ||
      expected === undefined ||
      info.uid !== expected.uid ||
      info.gid !== expected.gid
    )
      actions.push({ kind: 'chown', path, user, group: user });
  };

  const user = (name: string, home: string, groups: readonly string[], shell: string): void => {
    if (!observed.groups.has(name)) actions.push({ kind: 'groupadd', group: name });
    const existing = observed.users.get(name);
    if (existing === undefined) {
      actions.push({ kind: 'useradd', user: name, home, group: name, groups, shell });
      return;
    }
    const primary = observed.groups.get(name);
    const missingGroup = groups.some((g) => !(observed.groups.get(g)?.members.includes(name) ?? false));
    if (
      existing.home !== home ||
      existing.shell !== shell ||
      primary === undefined ||
      existing.gid !== primary.gid ||
      missingGroup
    )
      actions.push({ kind: 'usermod', user: name, home, group: name, groups, shell });
  };

  directory(layout.instanceRoot, ROOT_MODE);
  if (layout.softwareUser !== undefined) {
    user(layout.softwareUser, layout.softwareRoot, [], '/bin/sh');
    directory(layout.softwareRoot, ROOT_MODE, layout.softwareUser);
  } else directory(layout.softwareRoot, ROOT_MODE);
  if (layout.certificateRepositoryPath !== undefined)
    directory(layout.certificateRepositoryPath, CERTIFICATE_REPOSITORY_MODE);

  if (system && layout.alterNetwork) {
    if (layout.partitions.some((p) => p.ipv6Range !== undefined) && observed.nonlocalBind !== '1')
      actions.push({ kind: 'sysctl', key: 'net.ipv6.ip_nonlocal_bind', value: '1' });
  }

  for (const partition of layout.partitions) {
    if (layout.alterUser)
      user(partition.user.name, partition.path, partition.user.groups, partition.user.shell);
    if (system && layout.alterNetwork) {
      for (const address of partition.addresses) {
        const present = observed.addresses.some(
          (a) => a.address === address.addr && a.ifname === address.interface && !a.dadFailed,
        );
        if (!present)
          actions.push({
            kind: 'address',
            address: address.addr,
            prefixLength: address.prefixlen,
            interface: address.interface,
          });
      }
      if (partition.ipv6Range !== undefined) {
        const network = cidrText(parseCidr(partition.ipv6Range.network));
        if (!observed.localRoutes.has(network)) actions.push({ kind: 'local-route', network });
      }
    }
    directory(partition.path, PARTITION_MODE, layout.alterUser ? partition.user.name : undefined);
    const content = resourceFileContent(partition);
    const path = resourceFilePath(partition);
    if (observed.files.get(path) !== content) actions.push({ kind: 'resource-file', path, content });
  }
  return actions;
}

/**
 * `<partition>/.slapos-resource`, which instance profiles read (slapconfiguration flattens it into
 * `ipv6-range-network`, `tap-name`…): the original's keys, sorted, indented by 4. No tap or tun is
 * created, so `tap` has empty values and `tun` is null.
 */
export function resourceFileContent(partition: PartitionLayout): string {
  const resource = {
    address_list: partition.addresses.map((a) => ({ addr: a.addr, netmask: a.netmask })),
    external_storage_list: [],
    ipv6_range: partition.ipv6Range ?? {},
    path: partition.path,
    reference: partition.reference,
    tap: {
      ipv4_addr: '',
      ipv4_gateway: '',
      ipv4_netmask: '',
      ipv4_network: '',
      ipv6_addr: '',
      ipv6_gateway: '',
      ipv6_netmask: '',
      ipv6_network: '',
      name: '',
    },
    tun: null,
    user: {
      additional_group_list: partition.user.groups,
      name: partition.user.name,
      path: partition.user.home,
      shell: partition.user.shell,
    },
  };
  return `${JSON.stringify(sortKeys(resource), null, 4)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  return value;
}

/** The command line an action amounts to (what `--dry_run` shows); undefined for file operations. */
export function commandOf(action: FormatAction): string[] | undefined {
  switch (action.kind) {
    case 'groupadd':
      return ['groupadd', action.group];
    case 'useradd':
    case 'usermod': {
      // useradd creates a system account (-r); usermod appends (-a) groups, never removes any.
      const groups = action.groups.length === 0 ? [] : ['-G', action.groups.join(',')];
      return [
        action.kind,
        ...['-d', action.home, '-g', action.group, '-s', action.shell],
        ...(action.kind === 'useradd' ? ['-r', ...groups] : groups.length > 0 ? ['-a', ...groups] : []),
        action.user,
      ];
    }
    case 'sysctl':
      return ['sysctl', '-w', `${action.key}=${action.value}`];
    case 'address':
      return [
        'ip',
        action.address.includes(':') ? '-6' : '-4',
        'address',
        'add',
        `${action.address}/${action.prefixLength}`,
        'dev',
        action.interface,
      ];
    case 'local-route':
      return ['ip', '-6', 'route', 'add', 'local', action.network, 'dev', 'lo'];
    default:
      return undefined;
  }
}

/** One line describing an action, for people. */
export function describeAction(action: FormatAction): string {
  switch (action.kind) {
    case 'mkdir':
      return `create directory ${action.path} (mode ${action.mode.toString(8)})`;
    case 'chmod':
      return `set mode ${action.mode.toString(8)} on ${action.path}`;
    case 'chown':
      return `give ${action.path} to ${action.user}:${action.group}`;
    case 'resource-file':
      return `write ${action.path}`;
    default:
      return (commandOf(action) ?? []).join(' ');
  }
}
