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
import { XMLParser } from 'fast-xml-parser';
import { SlapError } from './errors.ts';
import { nonXmlCharacterIndex, unescapeXml } from './xml-text.ts';

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

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: false,
  trimValues: false,
  // CDATA stays apart (and is refused below): its content must not be unescaped.
  cdataPropName: '#cdata',
  isArray: (name) => name === 'transaction' || name === 'movement' || name === 'category' || name === 'arrow',
});

type Element = Record<string, unknown>;

/** The text of a leaf element as an XML parser reports it; undefined when the element is absent. */
function leafText(parent: Element, name: string, where: string): string | undefined {
  if (!Object.hasOwn(parent, name)) return undefined;
  const raw = parent[name];
  if (typeof raw !== 'string') throw invalid(`${where}: <${name}> must be plain text (once)`);
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
  const fields = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [y, mo, d, h, mi, s] = fields;
  const utc = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(utc);
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo - 1 ||
    check.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  )
    return undefined;
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

function asElements(value: unknown, name: string, where: string): Element[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${where}: <${name}> is malformed`);
  return value.map((item: unknown) => {
    if (item === '') return {};
    if (typeof item !== 'object' || item === null) throw invalid(`${where}: <${name}> must hold elements`);
    return item as Element;
  });
}

function transactionInterval(transaction: Element, where: string): { start: number; stop: number } {
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

const MOVEMENT_TAG = /<movement[\s/>]/g;

/** The movements of a usage journal; `<journal/>` (no transaction) has none. */
export function parseUsageJournal(xml: string): UsageJournalMovement[] {
  if (xml.includes('<!DOCTYPE')) throw invalid('DOCTYPE is not allowed (no DTD, no entity declarations)');
  // Counted before parsing, so that an oversized journal costs no parse.
  let count = 0;
  for (const _ of xml.matchAll(MOVEMENT_TAG))
    if (++count > MAX_USAGE_MOVEMENTS)
      throw invalid(`the journal has more than ${MAX_USAGE_MOVEMENTS} movements`);
  let document: Element;
  try {
    document = parser.parse(xml, true) as Element;
  } catch (error) {
    throw invalid(`not well-formed XML: ${(error as Error).message}`);
  }
  const roots = Object.keys(document).filter((key) => key !== '?xml');
  if (roots.length !== 1 || roots[0] !== 'journal') throw invalid('the root element must be <journal>');
  const journal = document.journal;
  if (journal === '') return [];
  if (typeof journal !== 'object' || journal === null) throw invalid('<journal> must hold <transaction>s');
  const transactions = asElements((journal as Element).transaction, 'transaction', 'journal');
  const movements: UsageJournalMovement[] = [];
  transactions.forEach((transaction, t) => {
    const where = `transaction ${t + 1}`;
    const { start, stop } = transactionInterval(transaction, where);
    const items = asElements(transaction.movement, 'movement', where);
    items.forEach((movement, m) => {
      const at = `${where}, movement ${m + 1}`;
      const resource = boundedText(leafText(movement, 'resource', at) ?? '', 'resource', at);
      if (resource === '') throw invalid(`${at}: <resource> is missing or empty`);
      const reference = boundedText(leafText(movement, 'reference', at) ?? '', 'reference', at);
      if (reference === '') throw invalid(`${at}: <reference> (the partition) is missing or empty`);
      const title = leafText(movement, 'title', at);
      movements.push({
        reference,
        resource,
        title: title === undefined ? null : boundedText(title, 'title', at),
        quantity: quantityOf(leafText(movement, 'quantity', at), at),
        start,
        stop,
      });
    });
  });
  return movements;
}
