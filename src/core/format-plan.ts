/**
 * What formatting a compute node registers: its partitions (in order) and their addresses. Both
 * the JSON API (`compute_node_format`) and the legacy `loadComputerConfigurationFromXML` payload
 * reduce to this plan, so both produce exactly the same partitions and addresses.
 */
import { SlapError } from './errors.ts';
import { TEXT_RULES, textProblem } from './text-rules.ts';

export interface FormatAddress {
  /** Network interface name (the partition's tap interface in legacy payloads). */
  networkInterface: string;
  address: string;
  netmask: string | null;
}

export interface FormatPartition {
  reference: string;
  addresses: FormatAddress[];
}

export interface ComputeNodeFormat {
  computeNodeId: string;
  address: string | null;
  netmask: string | null;
  partitions: FormatPartition[];
}

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

function requireName(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string`);
  const problem = textProblem(value, TEXT_RULES.name);
  if (problem) throw invalid(`${what} ${problem}`);
  return value;
}

function optionalName(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(`${what} must be a string`);
  const problem = textProblem(value, TEXT_RULES.optionalName);
  if (problem) throw invalid(`${what} ${problem}`);
  return value;
}

function checked(plan: ComputeNodeFormat): ComputeNodeFormat {
  const seen = new Set<string>();
  for (const partition of plan.partitions) {
    if (seen.has(partition.reference)) throw invalid(`partition ${partition.reference} is listed twice`);
    seen.add(partition.reference);
  }
  return plan;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listOf(value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`${what} must be a list`);
  return value;
}

/**
 * The JSON API body: `{computer_guid, compute_partition_list: [{partition_id, ip_list: [{ip-address,
 * network-interface, netmask}]}]}`. A missing interface name falls back to the partition id (as the
 * legacy payload's empty tap name does); a missing netmask is stored as null.
 */
export function formatFromJson(body: {
  computer_guid: string;
  compute_partition_list: unknown[];
}): ComputeNodeFormat {
  const partitions = body.compute_partition_list.map((item, index): FormatPartition => {
    if (!isRecord(item)) throw invalid(`compute_partition_list/${index} must be an object`);
    const reference = requireName(item.partition_id, `compute_partition_list/${index}/partition_id`);
    const addresses = listOf(item.ip_list, `compute_partition_list/${index}/ip_list`).map((ip, position) => {
      const where = `compute_partition_list/${index}/ip_list/${position}`;
      if (!isRecord(ip)) throw invalid(`${where} must be an object`);
      return {
        networkInterface: optionalName(ip['network-interface'], `${where}/network-interface`) || reference,
        address: requireName(ip['ip-address'], `${where}/ip-address`),
        netmask: optionalName(ip.netmask, `${where}/netmask`),
      };
    });
    return { reference, addresses };
  });
  return checked({
    computeNodeId: requireName(body.computer_guid, 'computer_guid'),
    address: null,
    netmask: null,
    partitions,
  });
}

/**
 * The legacy payload (the unmarshalled dict `slapos node format` sends):
 * `{reference, address, netmask, partition_list: [{reference, tap: {name}, address_list: [{addr,
 * netmask}]}]}`. Every address of a partition is on its tap interface, or on an interface named
 * after the partition when the tap has no name. Other keys are ignored.
 */
export function formatFromLegacyComputer(computer: unknown): ComputeNodeFormat {
  if (!isRecord(computer)) throw invalid('the computer description must be a dictionary');
  const partitions = listOf(computer.partition_list, 'partition_list').map((item, index): FormatPartition => {
    if (!isRecord(item)) throw invalid(`partition_list/${index} must be a dictionary`);
    const reference = requireName(item.reference, `partition_list/${index}/reference`);
    const tap = item.tap;
    if (tap !== undefined && tap !== null && !isRecord(tap))
      throw invalid(`partition_list/${index}/tap must be a dictionary`);
    const networkInterface = optionalName(tap?.name, `partition_list/${index}/tap/name`) || reference;
    const addresses = listOf(item.address_list, `partition_list/${index}/address_list`).map(
      (entry, position) => {
        const where = `partition_list/${index}/address_list/${position}`;
        if (!isRecord(entry)) throw invalid(`${where} must be a dictionary`);
        return {
          networkInterface,
          address: requireName(entry.addr, `${where}/addr`),
          netmask: optionalName(entry.netmask, `${where}/netmask`),
        };
      },
    );
    return { reference, addresses };
  });
  return checked({
    computeNodeId: requireName(computer.reference, 'reference'),
    address: optionalName(computer.address, 'address'),
    netmask: optionalName(computer.netmask, 'netmask'),
    partitions,
  });
}
