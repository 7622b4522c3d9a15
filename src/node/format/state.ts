/**
 * The persisted result of `node format` (`<instance_root>/.slapos-format.json`): which partitions
 * exist and which addresses they were given. It is what keeps addresses stable from one run to the
 * next (the original's computer_xml); deleting it re-allocates the addresses.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

export const STATE_FILE_NAME = '.slapos-format.json';

export type FormatMode = 'sandbox' | 'system';

export interface AddressEntry {
  readonly addr: string;
  readonly netmask: string;
  readonly prefixlen: number;
  /** Device the address lives on (`lo` in sandbox mode). */
  readonly interface: string;
}

export interface Ipv6Range {
  readonly addr: string;
  readonly netmask: string;
  /** `addr/prefixlen`. */
  readonly network: string;
  readonly prefixlen: number;
}

export interface PartitionEntry {
  readonly reference: string;
  /** Unix user of the partition (system mode); absent in sandbox mode. */
  readonly user?: string;
  readonly addresses: readonly AddressEntry[];
  readonly ipv6_range?: Ipv6Range;
}

export interface FormatState {
  readonly version: 1;
  readonly computer_id: string;
  readonly mode: FormatMode;
  /** The node's own IPv6 (system mode), as the original's computer address. */
  readonly address?: { readonly addr: string; readonly netmask: string };
  readonly partitions: readonly PartitionEntry[];
}

export function stateFilePath(instanceRoot: string): string {
  return join(instanceRoot, STATE_FILE_NAME);
}

export async function loadFormatState(path: string): Promise<FormatState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const corrupt = (why: string): SlapError =>
    new SlapError('SLAP_ERR_CONFLICT', `format state ${path} is unusable: ${why}`, {
      hint: 'move the file away to format from scratch (partition addresses may then change)',
    });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt('not JSON');
  }
  if (!isRecord(value) || value.version !== 1) throw corrupt('unknown version');
  if (typeof value.computer_id !== 'string') throw corrupt('computer_id missing');
  if (value.mode !== 'sandbox' && value.mode !== 'system') throw corrupt('mode missing');
  if (!Array.isArray(value.partitions)) throw corrupt('partitions missing');
  for (const partition of value.partitions as unknown[]) {
    if (
      !isRecord(partition) ||
      typeof partition.reference !== 'string' ||
      !Array.isArray(partition.addresses)
    )
      throw corrupt('a partition entry is malformed');
  }
  return value as unknown as FormatState;
}

export async function saveFormatState(path: string, state: FormatState): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
