import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from './errors.ts';
import { parseExactJson } from './exact-json.ts';
import { MAX_PRICE_LIST_LENGTH, parsePriceList, priceListDocument } from './price-list.ts';
import { hostileString, LINE_TERMINATORS, seededRandom } from '../testing/hostile-strings.ts';
import { throwsSlapError } from '../testing/slap-error-assert.ts';
import { isXmlCompatible } from './xml-text.ts';

const ISSUE_EXAMPLE = `{"currency": "EUR", "effective": "2026-01-01", "resources": {"service_module/cpu_time": 0.0001,
  "service_module/memory_used": 0.001, "service_module/disk_used": 0.0005},
  "instance_tree_monthly_fee": 0}`;

function invalid(text: string, message?: RegExp): SlapError {
  return throwsSlapError(() => parsePriceList(text), 'SLAP_ERR_PRICE_LIST_INVALID', message);
}

test("the issue's price list parses, prices as exact decimal text", () => {
  assert.deepEqual(
    { ...parsePriceList(ISSUE_EXAMPLE), resources: { ...parsePriceList(ISSUE_EXAMPLE).resources } },
    {
      currency: 'EUR',
      effective: '2026-01-01',
      resources: {
        'service_module/cpu_time': '0.0001',
        'service_module/memory_used': '0.001',
        'service_module/disk_used': '0.0005',
      },
      instanceTreeMonthlyFee: '0',
    },
  );
});

test('prices are read from their digits, never through a float', () => {
  const list = parsePriceList(
    JSON.stringify({ currency: 'USD', effective: '2024-02-29', resources: {} }).replace(
      '{}',
      '{"a": 1e-7, "b": 0.30000000000000001, "c": "12345678901234567890.123456789", "d": 1.50, "e": "2E3", "f": -0}',
    ),
  );
  assert.deepEqual(
    { ...list.resources },
    {
      a: '0.0000001',
      b: '0.30000000000000001',
      c: '12345678901234567890.123456789',
      d: '1.5',
      e: '2000',
      f: '0',
    },
  );
  assert.equal(list.instanceTreeMonthlyFee, '0', 'the fee defaults to 0');
  assert.equal(
    parsePriceList(
      '{"currency":"EUR","effective":"2026-01-01","resources":{},"instance_tree_monthly_fee":"9.99"}',
    ).instanceTreeMonthlyFee,
    '9.99',
  );
});

test('bad price lists are refused with SLAP_ERR_PRICE_LIST_INVALID and a clear message', () => {
  const base = { currency: 'EUR', effective: '2026-01-01', resources: { cpu: 1 } };
  const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...base, ...patch });
  invalid(with_({ extra: 1 }), /unknown key "extra"/);
  invalid(with_({ currency: 'eur' }), /ISO 4217/);
  invalid(with_({ currency: 'EURO' }), /ISO 4217/);
  invalid(with_({ currency: 978 }), /ISO 4217/);
  for (const day of [
    '2026-02-30',
    '2026-13-01',
    '2025-02-29',
    '26-01-01',
    '2026-1-1',
    '2026-01-01T00:00',
    '',
  ])
    invalid(with_({ effective: day }), /calendar day/);
  invalid(with_({ resources: [] }), /resources must be an object/);
  invalid(with_({ resources: { cpu: -0.0001 } }), /negative/);
  invalid(with_({ resources: { cpu: '-1' } }), /negative/);
  invalid(with_({ resources: { cpu: true } }), /number or a decimal string/);
  invalid(with_({ resources: { cpu: null } }), /number or a decimal string/);
  invalid(with_({ resources: { cpu: '1,5' } }), /not a decimal number/);
  invalid(with_({ resources: { cpu: 'NaN' } }), /not a decimal number/);
  invalid(with_({ resources: { cpu: 1e300 } }), /not a decimal number/);
  invalid(with_({ resources: { '': 1 } }), /resource name has 1 to/);
  invalid(with_({ resources: { 'a\u0000b': 1 } }), /cannot carry/);
  invalid(with_({ resources: { instance_tree_monthly_fee: 1 } }), /not a resource/);
  invalid(with_({ instance_tree_monthly_fee: -5 }), /negative/);
  invalid('{"currency":"EUR","effective":"2026-01-01","resources":{"a":1,"a":2}}', /duplicate key "a"/);
  invalid('{"currency":"EUR","currency":"USD","effective":"2026-01-01","resources":{}}', /duplicate key/);
  invalid('[]', /must be a JSON object/);
  invalid('', /not JSON/);
  invalid('{"currency":"EUR"} x', /not JSON/);
  invalid('{"currency":"EUR",}', /not JSON/);
  invalid('{"a":01}', /not JSON/);
  invalid('{"a":"\u0000"}', /not JSON: control character/);
  invalid('\u0000', /not JSON/);
  invalid(`${'['.repeat(100_000)}`, /nesting deeper/);
  invalid(' '.repeat(MAX_PRICE_LIST_LENGTH + 1), /longer than/);
  const many: Record<string, number> = {};
  for (let i = 0; i <= 10_000; i++) many[`r${i}`] = 1;
  invalid(with_({ resources: many }), /more than 10000 resources/);
});

/** A random price written as a JSON number or a decimal string. */
function randomPrice(random: () => number): { json: string; text: string } {
  const whole = String(Math.floor(random() * 1000));
  const fraction = random() < 0.5 ? '' : String(Math.floor(random() * 1e9)).padStart(9, '0');
  const exponent = random() < 0.3 ? -Math.floor(random() * 12) : 0;
  const written = `${whole}${fraction ? `.${fraction}` : ''}${exponent ? `e${exponent}` : ''}`;
  // The expected text, from the digits and the exponent (independently of decimal.ts).
  let coefficient = BigInt(whole + fraction);
  let scale = fraction.length - exponent;
  while (scale > 0 && coefficient % 10n === 0n) {
    coefficient /= 10n;
    scale--;
  }
  const digits = coefficient.toString().padStart(scale + 1, '0');
  const cut = digits.length - scale;
  const text = scale > 0 ? `${digits.slice(0, cut)}.${digits.slice(cut)}` : digits;
  return { json: random() < 0.5 ? written : JSON.stringify(written), text };
}

test('property: prices and resource names round-trip exactly through the stored document', () => {
  const random = seededRandom(15);
  for (let round = 0; round < 300; round++) {
    const entries: string[] = [];
    const expected = new Map<string, string>();
    const count = Math.floor(random() * 6);
    for (let i = 0; i < count; i++) {
      let name = hostileString(random, 6).slice(0, 1024);
      if (!isXmlCompatible(name) || name === '' || name === 'instance_tree_monthly_fee' || expected.has(name))
        name = `r${round}-${i}${LINE_TERMINATORS[i % LINE_TERMINATORS.length]}"\\\t`;
      if (!isXmlCompatible(name)) name = `r${round}-${i}`;
      const price = randomPrice(random);
      entries.push(`${JSON.stringify(name)}: ${price.json}`);
      expected.set(name, price.text);
    }
    const text = `{"resources": {${entries.join(', ')}}, "effective": "2026-12-31", "currency": "CHF"}`;
    const list = parsePriceList(text);
    assert.deepEqual(new Map(Object.entries(list.resources)), expected, text);
    const again = parsePriceList(priceListDocument(list));
    assert.deepEqual(again, list);
    assert.equal(priceListDocument(again), priceListDocument(list));
  }
});

test('property: any text is either a price list or a SLAP_ERR_PRICE_LIST_INVALID, never a crash', () => {
  const random = seededRandom(1507);
  const fragments = [
    '{',
    '}',
    '[',
    ']',
    '"',
    ':',
    ',',
    '1e-7',
    '-',
    'currency',
    'resources',
    '\\u0000',
    'null',
  ];
  for (let round = 0; round < 2000; round++) {
    let text = '';
    const pieces = Math.floor(random() * 20);
    for (let i = 0; i < pieces; i++)
      text +=
        random() < 0.5
          ? (fragments[Math.floor(random() * fragments.length)] as string)
          : hostileString(random, 2);
    try {
      parsePriceList(text);
    } catch (error) {
      assert.ok(error instanceof SlapError, String(error));
      assert.equal(error.code, 'SLAP_ERR_PRICE_LIST_INVALID');
      assert.doesNotMatch(error.message, /\n.*at /, 'no stack in the message');
    }
  }
});

test('the exact JSON reader agrees with JSON.parse on strings and structure', () => {
  const random = seededRandom(42);
  for (let round = 0; round < 500; round++) {
    const value = hostileString(random, 8);
    const parsed = parseExactJson(JSON.stringify({ [value]: [value, true, null] }));
    assert.equal(parsed.kind, 'object');
    if (parsed.kind !== 'object') continue;
    assert.deepEqual([...parsed.entries.keys()], [value]);
    assert.deepEqual(parsed.entries.get(value), {
      kind: 'array',
      items: [{ kind: 'string', value }, { kind: 'boolean', value: true }, { kind: 'null' }],
    });
  }
});
