/**
 * Reads a node's usage report, the TioXML `<journal>` of `computer_consumption.xsd`, into movements
 * with their interval. What nodes send (docs/node.md §6.1):
 * - our node and the original slapgrid: one transaction, `start_date` empty, `stop_date`
 *   `YYYY-MM-DD at HH:MM:SS`, one movement per partition and resource, `reference` = the partition;
 * - slapos.collect's daily journals: `start_date` `YYYY-MM-DD 00:00:00`, `stop_date`
 *   `YYYY-MM-DD 23:59:59`, some movements with `reference` = the compute node itself.
 * Dates without a zone are UTC. An empty `start_date` means the interval is the instant of
 * `stop_date` (a measure taken then); `stop_date` is required.
 *
 * Every text is read exactly as an XML parser reports it (the predefined entities and character
 * references replaced, line ends normalised); no DTD, no other entity. Anything that does not fit
 * throws SLAP_ERR_USAGE_REPORT_INVALID naming the transaction and movement.
 */
import { SlapError } from './errors.ts';
import { scanXml } from './xml-events.ts';
import { nonXmlCharacterIndex, unescapeXml } from './xml-text.ts';
import { utcFieldsTime } from './utc-fields.ts';

/** At most this many movements in one journal (a node of 1,000 partitions × 100 resources). */
export const MAX_USAGE_MOVEMENTS = 100_000;
/** Longest resource, title or reference kept (characters). */
export const MAX_USAGE_TEXT_LENGTH = 1024;

export interface UsageJournalMovement {
  /** The movement's `reference`: a partition of the node, or the node itself. */
  reference: string;
  resource: string;
  title: string | null;
  /** Finite and not negative. */
  quantity: number;
  /** Seconds since the epoch (UTC); `start <= stop`. */
  start: number;
  stop: number;
}

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_USAGE_REPORT_INVALID', message);
}

/** The raw text of the leaf elements read, by name. */
type Leaves = Map<string, string>;

/** The text of a leaf element as an XML parser reports it; undefined when the element is absent. */
function leafText(leaves: Leaves, name: string, where: string): string | undefined {
  const raw = leaves.get(name);
  if (raw === undefined) return undefined;
  let text: string;
  try {
    text = unescapeXml(raw.replace(/\r\n?/g, '\n'));
  } catch (error) {
    throw invalid(`${where}: <${name}>: ${(error as Error).message}`);
  }
  const bad = nonXmlCharacterIndex(text);
  if (bad >= 0) throw invalid(`${where}: <${name}> holds a character XML 1.0 cannot carry (at ${bad})`);
  return text;
}

const DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:(?: at |[ T])(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Seconds since the epoch of a journal date: `YYYY-MM-DD at HH:MM:SS`, `YYYY-MM-DD HH:MM:SS`,
 * ISO 8601 (`T`, fraction, `Z` or offset) or a bare date (midnight); no zone means UTC.
 */
export function parseJournalDate(text: string): number | undefined {
  const match = DATE.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone = 'Z'] = match;
  const utc = utcFieldsTime([year, month, day, hour, minute, second].map(Number));
  if (utc === undefined) return undefined;
  let offset = 0;
  if (zone !== 'Z') {
    const zoneHours = Number(zone.slice(1, 3));
    const zoneMinutes = Number(zone.slice(4, 6));
    if (zoneHours > 23 || zoneMinutes > 59) return undefined;
    offset = (zone.startsWith('-') ? -1 : 1) * (zoneHours * 3600 + zoneMinutes * 60);
  }
  return utc / 1000 + (fraction === '' ? 0 : Number(fraction)) - offset;
}

/** xs:float as decimal text (no INF/NaN, no hexadecimal). */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function quantityOf(text: string | undefined, where: string): number {
  if (text === undefined) throw invalid(`${where}: <quantity> is missing`);
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!DECIMAL.test(trimmed) || !Number.isFinite(value))
    throw invalid(`${where}: <quantity> is not a finite number: ${JSON.stringify(trimmed.slice(0, 40))}`);
  if (value < 0) throw invalid(`${where}: <quantity> is negative`);
  return value + 0; // -0 → 0
}

function boundedText(text: string, name: string, where: string): string {
  if (text.length > MAX_USAGE_TEXT_LENGTH)
    throw invalid(`${where}: <${name}> is longer than ${MAX_USAGE_TEXT_LENGTH} characters`);
  return text;
}

function transactionInterval(transaction: Leaves, where: string): { start: number; stop: number } {
  const stopText = leafText(transaction, 'stop_date', where)?.trim() ?? '';
  if (stopText === '') throw invalid(`${where}: <stop_date> is missing or empty`);
  const stop = parseJournalDate(stopText);
  if (stop === undefined)
    throw invalid(`${where}: <stop_date> is not a date: ${JSON.stringify(stopText.slice(0, 40))}`);
  const startText = leafText(transaction, 'start_date', where)?.trim() ?? '';
  const start = startText === '' ? stop : parseJournalDate(startText);
  if (start === undefined)
    throw invalid(`${where}: <start_date> is not a date: ${JSON.stringify(startText.slice(0, 40))}`);
  if (stop < start) throw invalid(`${where}: <stop_date> is before <start_date>`);
  return { start, stop };
}

const TRANSACTION_LEAVES = new Set(['start_date', 'stop_date']);
const MOVEMENT_LEAVES = new Set(['resource', 'title', 'reference', 'quantity']);

function movementOf(
  leaves: Leaves,
  interval: { start: number; stop: number },
  at: string,
): UsageJournalMovement {
  const resource = boundedText(leafText(leaves, 'resource', at) ?? '', 'resource', at);
  if (resource === '') throw invalid(`${at}: <resource> is missing or empty`);
  const reference = boundedText(leafText(leaves, 'reference', at) ?? '', 'reference', at);
  if (reference === '') throw invalid(`${at}: <reference> (the partition) is missing or empty`);
  const title = leafText(leaves, 'title', at);
  return {
    reference,
    resource,
    title: title === undefined ? null : boundedText(title, 'title', at),
    quantity: quantityOf(leafText(leaves, 'quantity', at), at),
    ...interval,
  };
}

/**
 * The movements of a usage journal; `<journal/>` (no transaction) has none. Read in one pass
 * (xml-events.ts): elements the journal does not need (arrows, prices, categories…) are skipped.
 */
export function parseUsageJournal(xml: string): UsageJournalMovement[] {
  const fail = (reason: string): never => {
    throw invalid(reason);
  };
  const movements: UsageJournalMovement[] = [];
  let depth = 0;
  /** The depth of the element being skipped, with everything in it; -1: none. */
  let skipping = -1;
  let transactions = 0;
  let count = 0;
  let transaction: { leaves: Leaves; movements: Leaves[] } | undefined;
  let movement: Leaves | undefined;
  let capture: { into: Leaves; name: string; depth: number; raw: string } | undefined;
  const where = () => `transaction ${transactions}`;
  const startCapture = (into: Leaves, name: string, at: string) => {
    if (into.has(name)) fail(`${at}: <${name}> must be plain text (once)`);
    // The level of the element (its close brings depth back to it).
    capture = { into, name, depth: depth - 1, raw: '' };
  };
  scanXml(
    xml,
    {
      open(name) {
        const level = depth++;
        if (capture) fail(`${where()}: <${capture.name}> must be plain text (once)`);
        if (skipping >= 0) return;
        if (level === 0) {
          if (name !== 'journal') fail('the root element must be <journal>');
        } else if (level === 1 && name === 'transaction') {
          transactions++;
          transaction = { leaves: new Map(), movements: [] };
        } else if (level === 2 && transaction && name === 'movement') {
          if (++count > MAX_USAGE_MOVEMENTS)
            fail(`the journal has more than ${MAX_USAGE_MOVEMENTS} movements`);
          movement = new Map();
          transaction.movements.push(movement);
        } else if (level === 2 && transaction && TRANSACTION_LEAVES.has(name)) {
          startCapture(transaction.leaves, name, where());
        } else if (level === 3 && movement && MOVEMENT_LEAVES.has(name)) {
          startCapture(movement, name, `${where()}, movement ${transaction?.movements.length ?? 0}`);
        } else {
          skipping = level;
        }
      },
      close() {
        const level = --depth;
        if (skipping >= 0) {
          if (skipping === level) skipping = -1;
          return;
        }
        if (capture && capture.depth === level) {
          capture.into.set(capture.name, capture.raw);
          capture = undefined;
        } else if (level === 2) {
          movement = undefined;
        } else if (level === 1 && transaction) {
          const interval = transactionInterval(transaction.leaves, where());
          transaction.movements.forEach((leaves, m) =>
            movements.push(movementOf(leaves, interval, `${where()}, movement ${m + 1}`)),
          );
          transaction = undefined;
        }
      },
      text(raw) {
        if (capture) capture.raw += raw;
      },
    },
    (reason) => {
      throw invalid(`not well-formed XML: ${reason}`);
    },
  );
  return movements;
}

/**
 * A journal's movements of the same key (partition, interval, resource) summed into one, in the
 * journal's order: what the master stores and bills (services/usage-records.ts), and so what a
 * verifier recomputes (invoice-verification.ts).
 */
export function mergeUsageMovements(movements: readonly UsageJournalMovement[]): UsageJournalMovement[] {
  const merged = new Map<string, UsageJournalMovement>();
  for (const movement of movements) {
    const key = JSON.stringify([movement.reference, movement.start, movement.stop, movement.resource]);
    const seen = merged.get(key);
    if (seen) seen.quantity += movement.quantity;
    else merged.set(key, { ...movement });
  }
  return [...merged.values()];
}
