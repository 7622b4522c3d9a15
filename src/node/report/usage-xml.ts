/**
 * Usage reports in SlapOS's XML (node.md §6.1): a partition's own `<consumption>` files
 * (`partition_consumption.xsd`, written by its `etc/report` scripts into `var/xml_report/`) are read
 * into movements, and the node sends one TioXML `<journal>` (`computer_consumption.xsd`) with every
 * movement, each `reference` set to its partition.
 */
import { XMLParser } from 'fast-xml-parser';
import { MAX_USAGE_MOVEMENTS, parseUsageJournal } from '../../core/usage-journal.ts';
import { escapeXmlText } from '../../core/xml-text.ts';

export interface UsageMovement {
  resource: string;
  title?: string;
  /** The partition id. */
  reference: string;
  quantity: number;
  price: number;
  VAT: string;
  category: string[];
}

/** Per-partition usage measured by the node: CPU time, resident memory, disk. */
export interface PartitionUsage {
  partitionId: string;
  cpuSeconds: number;
  memoryBytes: number;
  diskBytes: number;
}

const MIB = 1024 * 1024;

/** The node's own movements for a partition (units as slapos.collect's: MB for memory and disk). */
export function usageMovements(usage: PartitionUsage): UsageMovement[] {
  const movement = (resource: string, title: string, quantity: number): UsageMovement => ({
    resource,
    title: `${title} for ${usage.partitionId}`,
    reference: usage.partitionId,
    quantity: Math.round(quantity * 1000) / 1000,
    price: 0,
    VAT: '',
    category: [],
  });
  return [
    movement('service_module/cpu_time', 'CPU Time (seconds)', usage.cpuSeconds),
    movement('service_module/memory_used', 'Memory Used (MB)', usage.memoryBytes / MIB),
    movement('service_module/disk_used', 'Partition Disk Used (MB)', usage.diskBytes / MIB),
  ];
}

/** `YYYY-MM-DD at HH:MM:SS` (UTC), the original's stop_date. */
function journalDate(epochSeconds: number): string {
  const iso = new Date(epochSeconds * 1000).toISOString();
  return `${iso.slice(0, 10)} at ${iso.slice(11, 19)}`;
}

function element(name: string, value: string, indent: string): string {
  return `${indent}<${name}>${escapeXmlText(value)}</${name}>`;
}

function numberText(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

/**
 * The TioXML journal of `computer_consumption.xsd`; at least one movement is required. The interval
 * is [start, now] (dates in whole seconds); without `start`, `start_date` is empty: the instant `now`.
 */
export function usageJournal(input: {
  computerId: string;
  now: number;
  start?: number;
  movements: readonly UsageMovement[];
}): string {
  const lines = [
    "<?xml version='1.0' encoding='utf-8'?>",
    '<journal>',
    '  <transaction type="Sale Packing List">',
    element('title', 'Resource consumptions', '    '),
    element('start_date', input.start === undefined ? '' : journalDate(input.start), '    '),
    element('stop_date', journalDate(input.now), '    '),
    element('reference', input.computerId, '    '),
    element('currency', '', '    '),
    element('payment_mode', '', '    '),
    element('category', '', '    '),
    '    <arrow type="Administration">',
    element('source', '', '      '),
    element('destination', '', '      '),
    '    </arrow>',
  ];
  for (const movement of input.movements) {
    lines.push('    <movement>', element('resource', movement.resource, '      '));
    if (movement.title !== undefined) lines.push(element('title', movement.title, '      '));
    lines.push(
      element('reference', movement.reference, '      '),
      element('quantity', numberText(movement.quantity), '      '),
      element('price', numberText(movement.price), '      '),
      element('VAT', movement.VAT, '      '),
      ...movement.category.map((category) => element('category', category, '      ')),
      '    </movement>',
    );
  }
  lines.push('  </transaction>', '</journal>', '');
  return lines.join('\n');
}

/** Half of what the master takes in one journal: one file leaves room for the rest. */
export const MAX_CONSUMPTION_MOVEMENTS = MAX_USAGE_MOVEMENTS / 2;

const parser = new XMLParser({
  parseTagValue: false,
  ignoreAttributes: true,
  trimValues: true,
  isArray: (name) => name === 'movement' || name === 'category',
});

/**
 * Reads a partition consumption file (`partition_consumption.xsd`): the movements, their reference
 * set to `partitionId`; throws with the reason if the file does not match the schema's structure,
 * or holds a movement the master would refuse (a negative quantity, a text XML cannot carry or too
 * long): one partition's file must not get the whole node's journal refused.
 */
export function parsePartitionConsumption(text: string, partitionId: string): UsageMovement[] {
  const movements = consumptionMovements(text, partitionId);
  if (movements.length > MAX_CONSUMPTION_MOVEMENTS)
    throw new Error(`more than ${MAX_CONSUMPTION_MOVEMENTS} movements in one file`);
  try {
    parseUsageJournal(usageJournal({ computerId: partitionId, now: 0, movements }));
  } catch (error) {
    const reason = (error as Error).message;
    const at = /^transaction 1, (movement \d+): /.exec(reason);
    throw new Error(at ? `${at[1]}: the master would refuse it: ${reason.slice(at[0].length)}` : reason);
  }
  return movements;
}

function consumptionMovements(text: string, partitionId: string): UsageMovement[] {
  let document: Record<string, unknown>;
  try {
    document = parser.parse(text, true) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`not well-formed XML: ${(error as Error).message}`);
  }
  if (!('consumption' in document)) throw new Error('the root element must be <consumption>');
  const root = document.consumption as { movement?: unknown[] } | string;
  const movements = typeof root === 'object' ? (root.movement ?? []) : [];
  if (movements.length === 0) throw new Error('<consumption> has no <movement>');
  return movements.map((raw, index) => {
    const item = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const text = (key: string, required: boolean): string | undefined => {
      const value = item[key];
      if (value === undefined) {
        if (required) throw new Error(`movement ${index + 1}: <${key}> is missing`);
        return undefined;
      }
      if (typeof value !== 'string') throw new Error(`movement ${index + 1}: <${key}> must be text`);
      return value;
    };
    const float = (key: string): number => {
      const value = text(key, true) ?? '';
      const number = Number(value);
      if (value === '' || !Number.isFinite(number))
        throw new Error(`movement ${index + 1}: <${key}> is not a number: ${JSON.stringify(value)}`);
      return number + 0; // -0 → 0
    };
    const title = text('title', false);
    const categories = (item.category as unknown[] | undefined) ?? [];
    return {
      resource: text('resource', true) ?? '',
      ...(title === undefined ? {} : { title }),
      reference: partitionId,
      quantity: float('quantity'),
      price: float('price'),
      VAT: text('VAT', true) ?? '',
      category: categories.map((c) => (typeof c === 'string' ? c : '')),
    };
  });
}
