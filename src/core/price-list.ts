/**
 * Price lists as `slapos master prices set FILE` loads them (docs/invoicing.md):
 *
 *   {"currency": "EUR", "effective": "2026-01-01",
 *    "resources": {"service_module/cpu_time": 0.0001, "service_module/memory_used": "0.001"},
 *    "instance_tree_monthly_fee": 0}
 *
 * `currency` is an ISO 4217 code (three capital letters), `effective` the UTC day (YYYY-MM-DD) the
 * list applies from, `resources` the price per billed unit of each resource it bills (a resource it
 * does not name is not billed), `instance_tree_monthly_fee` (optional, default 0) the fee per
 * instance tree and month. Prices are JSON numbers or decimal strings, non-negative, read exactly
 * from their digits (`1e-7` stays 1e-7, never a float). Anything else is refused with
 * SLAP_ERR_PRICE_LIST_INVALID: unknown keys, duplicate keys, bad names, huge documents.
 */
import { compare, formatDecimal, parseDecimal, ZERO, type Decimal } from './decimal.ts';
import { SlapError } from './errors.ts';
import { ExactJsonError, parseExactJson, type ExactJson } from './exact-json.ts';
import { MONTHLY_FEE_RESOURCE, type PriceList } from './invoice-types.ts';
import { MAX_USAGE_TEXT_LENGTH } from './usage-journal.ts';
import { isXmlCompatible } from './xml-text.ts';

/** Longest price list document accepted (characters). */
export const MAX_PRICE_LIST_LENGTH = 1_000_000;
/** At most this many priced resources in one list. */
export const MAX_PRICED_RESOURCES = 10_000;

const KEYS = new Set(['currency', 'effective', 'resources', MONTHLY_FEE_RESOURCE]);
const CURRENCY = /^[A-Z]{3}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_PRICE_LIST_INVALID', `invalid price list: ${message}`, {
    hint: 'see docs/invoicing.md for the price list format',
  });
}

function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** True for a real calendar day written YYYY-MM-DD (UTC). */
export function isCalendarDay(text: string): boolean {
  const match = DAY.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    year >= 1970 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day
  );
}

/** A price: a JSON number or a decimal string, non-negative, read from its digits. */
function readPrice(value: ExactJson | undefined, where: string): Decimal {
  let text: string;
  if (value?.kind === 'number') text = value.text;
  else if (value?.kind === 'string') text = value.value;
  else throw invalid(`${where} must be a number or a decimal string`);
  let price: Decimal;
  try {
    price = parseDecimal(text);
  } catch {
    throw invalid(`${where} is not a decimal number: ${shown(text)}`);
  }
  if (compare(price, ZERO) < 0) throw invalid(`${where} is negative: ${shown(text)}`);
  return price;
}

function readResourceName(name: string): string {
  if (name === '' || name.length > MAX_USAGE_TEXT_LENGTH)
    throw invalid(`a resource name has 1 to ${MAX_USAGE_TEXT_LENGTH} characters`);
  if (!isXmlCompatible(name))
    throw invalid(`the resource name ${shown(name)} holds a character a usage report cannot carry`);
  if (name === MONTHLY_FEE_RESOURCE)
    throw invalid(`${MONTHLY_FEE_RESOURCE} is not a resource: set it at the top level`);
  return name;
}

/** Parses and validates a price list document (the file's text). */
export function parsePriceList(text: string): PriceList {
  if (text.length > MAX_PRICE_LIST_LENGTH)
    throw invalid(`the document is longer than ${MAX_PRICE_LIST_LENGTH} characters`);
  let json: ExactJson;
  try {
    json = parseExactJson(text);
  } catch (error) {
    if (error instanceof ExactJsonError) throw invalid(`not JSON: ${error.message}`);
    throw error;
  }
  if (json.kind !== 'object') throw invalid('the document must be a JSON object');
  for (const key of json.entries.keys())
    if (!KEYS.has(key)) throw invalid(`unknown key ${shown(key)} (known: ${[...KEYS].join(', ')})`);

  const currency = json.entries.get('currency');
  if (currency?.kind !== 'string' || !CURRENCY.test(currency.value))
    throw invalid('currency must be an ISO 4217 code of three capital letters, e.g. "EUR"');
  const effective = json.entries.get('effective');
  if (effective?.kind !== 'string' || !isCalendarDay(effective.value))
    throw invalid('effective must be a calendar day YYYY-MM-DD (UTC), e.g. "2026-01-01"');
  const resources = json.entries.get('resources');
  if (resources?.kind !== 'object') throw invalid('resources must be an object: resource name → price');
  if (resources.entries.size > MAX_PRICED_RESOURCES)
    throw invalid(`resources names more than ${MAX_PRICED_RESOURCES} resources`);
  const prices: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, price] of resources.entries)
    prices[readResourceName(name)] = formatDecimal(readPrice(price, `the price of ${shown(name)}`));
  const fee = json.entries.has(MONTHLY_FEE_RESOURCE)
    ? readPrice(json.entries.get(MONTHLY_FEE_RESOURCE), MONTHLY_FEE_RESOURCE)
    : ZERO;
  return {
    currency: currency.value,
    effective: effective.value,
    resources: prices,
    instanceTreeMonthlyFee: formatDecimal(fee),
  };
}

/**
 * The stored form of a price list: the same format, prices as decimal strings, resources sorted.
 * `parsePriceList(priceListDocument(list))` gives `list` back.
 */
export function priceListDocument(list: PriceList): string {
  const resources = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(list.resources).sort()) resources[name] = list.resources[name] as string;
  return JSON.stringify({
    currency: list.currency,
    effective: list.effective,
    resources,
    [MONTHLY_FEE_RESOURCE]: list.instanceTreeMonthlyFee,
  });
}
