/**
 * The desired layout of a compute node: its partitions, their users and their addresses, computed
 * from the configuration, the previous format state (addresses are kept) and what the host has.
 * Pure: no I/O.
 */
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import type { FormatConfig, NodeConfig } from '../config.ts';
import type { HostAddress } from './host.ts';
import {
  bitsOf,
  contains,
  formatAddress,
  netmaskText,
  parseAddress,
  parseCidr,
  sizeOf,
  type Cidr,
} from './ip.ts';
import type { AddressEntry, FormatMode, FormatState, Ipv6Range } from './state.ts';

export const PARTITION_SHELL = '/bin/sh';

export interface PartitionUser {
  readonly name: string;
  readonly home: string;
  readonly shell: string;
  /** Supplementary groups (the software user's group in system mode). */
  readonly groups: readonly string[];
}

export interface PartitionLayout {
  readonly reference: string;
  readonly path: string;
  readonly user: PartitionUser;
  readonly addresses: readonly AddressEntry[];
  readonly ipv6Range: Ipv6Range | undefined;
}

export interface ComputeNodeLayout {
  readonly mode: FormatMode;
  readonly computerId: string;
  readonly instanceRoot: string;
  readonly softwareRoot: string;
  readonly certificateRepositoryPath: string | undefined;
  readonly alterUser: boolean;
  readonly alterNetwork: boolean;
  /** Owner of software_root, created in system mode with alter_user. */
  readonly softwareUser: string | undefined;
  /** The node's IPv6 on ipv6_interface (system mode with alter_network). */
  readonly address: { readonly addr: string; readonly netmask: string } | undefined;
  readonly partitions: readonly PartitionLayout[];
}

export interface LayoutInput {
  readonly config: NodeConfig;
  readonly format: FormatConfig;
  readonly previous: FormatState | undefined;
  /** Addresses present on the host (needed in system mode with alter_network, and for sandbox IPv6). */
  readonly hostAddresses: readonly HostAddress[];
  /** Whether the host has IPv6 on loopback (`::1`). */
  readonly ipv6Loopback: boolean;
  /** The user running format (owner of everything in sandbox mode). */
  readonly currentUser: string;
}

export function computeLayout(input: LayoutInput): ComputeNodeLayout {
  const { config, format, previous } = input;
  const mode: FormatMode = config.sandbox ? 'sandbox' : 'system';
  const existing = previous?.partitions ?? [];
  if (format.partitionAmount < existing.length)
    throw new SlapError(
      'SLAP_ERR_FORMAT_SHRINK',
      `partition_amount is ${format.partitionAmount} but ${existing.length} partitions are already formatted; partitions are never removed`,
      {
        hint: `set partition_amount to ${existing.length} or more`,
        details: { requested: format.partitionAmount, existing: existing.length },
      },
    );
  const sameMode = previous?.mode === mode;
  const references = Array.from(
    { length: format.partitionAmount },
    (_, i) => existing[i]?.reference ?? `${format.partitionBaseName}${i}`,
  );
  const userNames = references.map((_, i) =>
    mode === 'sandbox'
      ? input.currentUser
      : ((sameMode ? existing[i]?.user : undefined) ?? `${format.userBaseName}${i}`),
  );
  const partitionAddresses =
    mode === 'sandbox'
      ? sandboxAddresses(input, references.length)
      : systemAddresses(input, references.length, sameMode);

  return {
    mode,
    computerId: config.computerId,
    instanceRoot: config.instanceRoot,
    softwareRoot: config.softwareRoot,
    certificateRepositoryPath: config.certificateRepositoryPath,
    alterUser: format.alterUser,
    alterNetwork: format.alterNetwork,
    softwareUser: format.alterUser ? format.softwareUser : undefined,
    address: partitionAddresses.computerAddress,
    partitions: references.map((reference, i) => {
      const path = join(config.instanceRoot, reference);
      return {
        reference,
        path,
        user: {
          name: userNames[i] ?? input.currentUser,
          home: path,
          shell: PARTITION_SHELL,
          groups: format.alterUser ? [format.softwareUser] : [],
        },
        addresses: partitionAddresses.addresses[i] ?? [],
        ipv6Range: partitionAddresses.ranges[i],
      };
    }),
  };
}

interface AddressPlan {
  addresses: AddressEntry[][];
  ranges: (Ipv6Range | undefined)[];
  computerAddress: { addr: string; netmask: string } | undefined;
}

/**
 * Sandbox: partition i gets host i+1 of the loopback range (all of 127.0.0.0/8 reaches `lo`, so
 * nothing is added anywhere), and the IPv6 it can have: the global address of a configured
 * ipv6_interface if it has one (shared by all partitions), else `::1`, else none.
 */
function sandboxAddresses(input: LayoutInput, count: number): AddressPlan {
  const range = input.format.sandboxIpv4Network;
  if (BigInt(count) > sizeOf(range) - 2n)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `${input.config.file}: [slapformat] sandbox_ipv4_network: ${formatAddress(4, range.network)}/${range.prefixLength} has room for ${sizeOf(range) - 2n} partitions, ${count} requested`,
      { hint: 'set a larger sandbox_ipv4_network, e.g. 127.42.0.0/16' },
    );
  const ipv6 = sandboxIpv6(input);
  const addresses = Array.from({ length: count }, (_, i) => {
    const list: AddressEntry[] = [
      {
        addr: formatAddress(4, range.network + BigInt(i + 1)),
        netmask: netmaskText(4, 32),
        prefixlen: 32,
        interface: 'lo',
      },
    ];
    if (ipv6) list.push(ipv6);
    return list;
  });
  return { addresses, ranges: addresses.map(() => undefined), computerAddress: undefined };
}

function sandboxIpv6(input: LayoutInput): AddressEntry | undefined {
  const iface = input.format.ipv6Interface;
  if (iface !== undefined) {
    const global = usableGlobal6(input.hostAddresses, iface, new Set()).sort(byPrefixThenAddress)[0];
    if (global)
      return {
        addr: global.address,
        netmask: netmaskText(6, global.prefixLength),
        prefixlen: global.prefixLength,
        interface: iface,
      };
  }
  if (!input.ipv6Loopback) return undefined;
  return { addr: '::1', netmask: netmaskText(6, 128), prefixlen: 128, interface: 'lo' };
}

function systemAddresses(input: LayoutInput, count: number, sameMode: boolean): AddressPlan {
  const previous = sameMode ? (input.previous?.partitions ?? []) : [];
  if (!input.format.alterNetwork)
    // As the original: without alter_network, addresses are neither created nor changed.
    return {
      addresses: Array.from({ length: count }, (_, i) => [...(previous[i]?.addresses ?? [])]),
      ranges: Array.from({ length: count }, (_, i) => previous[i]?.ipv6_range),
      computerAddress: sameMode ? input.previous?.address : undefined,
    };
  const ipv4Network = input.format.ipv4LocalNetwork;
  const iface4 = input.format.interfaceName;
  const iface6 = input.format.ipv6Interface;
  if (ipv4Network === undefined || iface4 === undefined || iface6 === undefined)
    throw new SlapError('SLAP_ERR_CONFIG', 'interface_name and ipv4_local_network are required');

  const ours = new Set(previous.flatMap((p) => p.addresses.map((a) => a.addr)));
  const prefix = computerPrefix(input, iface6, ours);

  // Addresses the host already has that are not ours are never handed out.
  const taken = new Set(input.hostAddresses.filter((a) => !ours.has(a.address)).map((a) => a.address));
  const keptV4 = previous.map((p) => p.addresses.find((a) => familyOf(a.addr) === 4)?.addr);
  const keptV6 = previous.map((p) => p.addresses.find((a) => familyOf(a.addr) === 6)?.addr);
  const v4 = allocate(ipv4Network, count, keptV4, taken, 1n);
  const v6 = allocate(prefix, count, keptV6, taken, 2n);

  const ranges = Array.from({ length: count }, (_, i) =>
    input.format.partitionHasIpv6Range
      ? (keptRange(previous[i]?.ipv6_range, prefix, input.format.ipv6Prefixshift) ??
        partitionRange(prefix, i, input.format.ipv6Prefixshift))
      : undefined,
  );
  const addresses = Array.from({ length: count }, (_, i) => [
    { addr: v4[i] ?? '', netmask: netmaskText(4, 32), prefixlen: 32, interface: iface4 },
    {
      addr: v6[i] ?? '',
      netmask: netmaskText(6, prefix.prefixLength),
      prefixlen: prefix.prefixLength,
      interface: iface6,
    },
  ]);
  return {
    addresses,
    ranges,
    computerAddress: { addr: formatAddress(6, prefix.address), netmask: netmaskText(6, prefix.prefixLength) },
  };
}

/**
 * The node's IPv6 and its network: among the global addresses of ipv6_interface (partition
 * addresses excluded), the lowest one in the network of the previously stored address, else the
 * one with the largest network (smallest prefix length), then the lowest address (node.md §2.1).
 */
function computerPrefix(
  input: LayoutInput,
  iface: string,
  ours: ReadonlySet<string>,
): Cidr & { address: bigint } {
  const candidates = usableGlobal6(input.hostAddresses, iface, ours);
  if (candidates.length === 0)
    throw new SlapError('SLAP_ERR_CONFIG', `interface ${iface} has no global IPv6 address`, {
      hint: 'partitions get their IPv6 from the prefix of ipv6_interface (or interface_name): give it a global IPv6 address, or set alter_network = false',
    });
  const stored = input.previous?.address?.addr;
  const inStored =
    stored === undefined
      ? []
      : candidates.filter((c) =>
          contains(parseCidr(`${c.address}/${c.prefixLength}`), 6, parseAddress(stored).value),
        );
  const chosen = (inStored.length > 0 ? inStored.sort(byAddress) : candidates.sort(byPrefixThenAddress))[0];
  if (!chosen) throw new Error('unreachable');
  return {
    ...parseCidr(`${chosen.address}/${chosen.prefixLength}`),
    address: parseAddress(chosen.address).value,
  };
}

function usableGlobal6(
  addresses: readonly HostAddress[],
  iface: string,
  excluded: ReadonlySet<string>,
): HostAddress[] {
  return addresses.filter(
    (a) =>
      a.ifname === iface &&
      a.family === 6 &&
      a.scope === 'global' &&
      !a.dadFailed &&
      !excluded.has(a.address),
  );
}

function byAddress(a: HostAddress, b: HostAddress): number {
  const x = parseAddress(a.address).value;
  const y = parseAddress(b.address).value;
  return x < y ? -1 : x > y ? 1 : 0;
}

function byPrefixThenAddress(a: HostAddress, b: HostAddress): number {
  return a.prefixLength - b.prefixLength || byAddress(a, b);
}

function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/**
 * One address per partition in `network`: the previous one when it still fits and is free,
 * otherwise the lowest free host number from `first` (IPv4: 1, network address skipped; IPv6: 2,
 * as the original, 1 being kept for re6st). The broadcast address of an IPv4 network is skipped.
 */
function allocate(
  network: Cidr,
  count: number,
  kept: readonly (string | undefined)[],
  taken: ReadonlySet<string>,
  first: bigint,
): string[] {
  const used = new Set(taken);
  const result: (string | undefined)[] = Array.from({ length: count }, (_, i) => {
    const previous = kept[i];
    if (previous === undefined) return undefined;
    const { family, value } = parseAddress(previous);
    if (!contains(network, family, value) || used.has(previous)) return undefined;
    used.add(previous);
    return previous;
  });
  const last = sizeOf(network) - (network.family === 4 && network.prefixLength < 31 ? 2n : 1n);
  let next = first;
  return result.map((address) => {
    if (address !== undefined) return address;
    while (next <= last && used.has(formatAddress(network.family, network.network + next))) next += 1n;
    if (next > last)
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `network ${formatAddress(network.family, network.network)}/${network.prefixLength} has no free address left for ${count} partitions`,
        { hint: 'use a larger ipv4_local_network' },
      );
    const chosen = formatAddress(network.family, network.network + next);
    used.add(chosen);
    return chosen;
  });
}

/**
 * The routed IPv6 range of partition i (node.md §2.7): prefix length L+shift, the `shift` new bits
 * being `(1 << (shift-2)) + i + 1`, the remaining bits zero.
 */
export function partitionRange(prefix: Cidr, index: number, shift: number): Ipv6Range {
  const prefixlen = prefix.prefixLength + shift;
  if (prefixlen >= bitsOf(6))
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `ipv6_prefixshift ${shift} is too large for a /${prefix.prefixLength} interface prefix`,
    );
  const value = (1n << BigInt(shift - 2)) + BigInt(index) + 1n;
  const network = prefix.network | (value << BigInt(128 - prefixlen));
  const addr = formatAddress(6, network);
  return { addr, netmask: netmaskText(6, prefixlen), network: `${addr}/${prefixlen}`, prefixlen };
}

function keptRange(range: Ipv6Range | undefined, prefix: Cidr, shift: number): Ipv6Range | undefined {
  if (range === undefined || range.prefixlen !== prefix.prefixLength + shift) return undefined;
  return contains(prefix, 6, parseAddress(range.addr).value) ? range : undefined;
}
