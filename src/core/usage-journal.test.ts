import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from './errors.ts';
import { MAX_USAGE_MOVEMENTS, parseJournalDate, parseUsageJournal } from './usage-journal.ts';
import { escapeXmlText, isXmlCompatible } from './xml-text.ts';
import { HOSTILE_PIECES, seededRandom, hostileString } from '../testing/hostile-strings.ts';

interface MovementXml {
  resource?: string | undefined;
  title?: string | undefined;
  reference?: string | undefined;
  quantity?: string | undefined;
}

/** A journal as `computer_consumption.xsd` has it; every text escaped as XML text. */
function journal(
  transactions: { start?: string; stop?: string; movements: MovementXml[] }[],
  escape: (text: string) => string = escapeXmlText,
): string {
  const leaf = (name: string, value: string | undefined) =>
    value === undefined ? '' : `<${name}>${escape(value)}</${name}>`;
  return (
    "<?xml version='1.0' encoding='utf-8'?>\n<journal>" +
    transactions
      .map(
        (t) =>
          `<transaction type="Sale Packing List"><title>Resource consumptions</title>` +
          leaf('start_date', t.start ?? '') +
          leaf('stop_date', t.stop ?? '') +
          '<reference>COMP-1</reference><currency></currency><payment_mode></payment_mode><category></category>' +
          '<arrow type="Administration"><source></source><destination></destination></arrow>\n  ' +
          t.movements
            .map(
              (m) =>
                '<movement>' +
                leaf('resource', m.resource) +
                leaf('title', m.title) +
                leaf('reference', m.reference) +
                leaf('quantity', m.quantity) +
                '<price>0.0</price><VAT></VAT><category></category></movement>\n',
            )
            .join('') +
          '</transaction>',
      )
      .join('') +
    '</journal>'
  );
}

const CPU = { resource: 'service_module/cpu_time', reference: 'slappart0', quantity: '1.5' };
const AT = Date.UTC(2026, 11, 7, 12, 0, 0) / 1000;

function refused(xml: string, pattern: RegExp): void {
  assert.throws(
    () => parseUsageJournal(xml),
    (error: unknown) =>
      error instanceof SlapError &&
      error.code === 'SLAP_ERR_USAGE_REPORT_INVALID' &&
      error.status === 400 &&
      pattern.test(error.message),
  );
}

test('the dates nodes write: slapgrid\'s "at", slapos.collect\'s, ISO 8601; no zone is UTC', () => {
  assert.equal(parseJournalDate('2026-12-07 at 12:00:00'), AT);
  assert.equal(parseJournalDate('2026-12-07 12:00:00'), AT);
  assert.equal(parseJournalDate('2026-12-07T12:00:00Z'), AT);
  assert.equal(parseJournalDate('2026-12-07T13:30:00+01:30'), AT);
  assert.equal(parseJournalDate('2026-12-07T12:00:00.25'), AT + 0.25);
  assert.equal(parseJournalDate('2026-12-07'), AT - 12 * 3600);
  for (const bad of ['2026-02-30 at 00:00:00', '2026-12-07 24:00:00', '7/12/2026', '2026-12-07 at 12:00', ''])
    assert.equal(parseJournalDate(bad), undefined, bad);
});

test("our node's journal: no start_date, the interval is the instant of stop_date", () => {
  const movements = parseUsageJournal(
    journal([
      {
        stop: '2026-12-07 at 12:00:00',
        movements: [CPU, { resource: 'service_module/memory_used', reference: 'slappart1', quantity: '12' }],
      },
    ]),
  );
  assert.deepEqual(movements, [
    {
      reference: 'slappart0',
      resource: 'service_module/cpu_time',
      title: null,
      quantity: 1.5,
      start: AT,
      stop: AT,
    },
    {
      reference: 'slappart1',
      resource: 'service_module/memory_used',
      title: null,
      quantity: 12,
      start: AT,
      stop: AT,
    },
  ]);
});

test("slapos.collect's daily journal: each transaction's own interval", () => {
  const movements = parseUsageJournal(
    journal([
      { start: '2026-12-06 00:00:00', stop: '2026-12-06 23:59:59', movements: [CPU] },
      { start: '2026-12-07 00:00:00', stop: '2026-12-07 23:59:59', movements: [{ ...CPU, quantity: '2e1' }] },
    ]),
  );
  assert.deepEqual(
    movements.map((m) => [m.start, m.stop, m.quantity]),
    [
      [AT - 36 * 3600, AT - 12 * 3600 - 1, 1.5],
      [AT - 12 * 3600, AT + 12 * 3600 - 1, 20],
    ],
  );
  assert.deepEqual(parseUsageJournal('<journal/>'), []);
  assert.deepEqual(parseUsageJournal('<journal></journal>'), []);
});

test('bad journals are refused with the reason', () => {
  const stop = '2026-12-07 at 12:00:00';
  refused('', /root element must be <journal>|not well-formed/);
  refused('<journal><transaction>', /not well-formed/);
  refused('<consumption/>', /root element must be <journal>/);
  refused('<!DOCTYPE journal [<!ENTITY x "y">]><journal/>', /DOCTYPE is not allowed/);
  refused(journal([{ movements: [CPU] }]), /<stop_date> is missing or empty/);
  refused(journal([{ stop: 'yesterday', movements: [CPU] }]), /<stop_date> is not a date/);
  refused(journal([{ start: 'now', stop, movements: [CPU] }]), /<start_date> is not a date/);
  refused(
    journal([{ start: '2026-12-07 at 12:00:01', stop, movements: [CPU] }]),
    /<stop_date> is before <start_date>/,
  );
  for (const quantity of ['-1', '-1e-9', 'NaN', 'INF', 'Infinity', '1e400', '0x10', '', ' ', '1,5', '1.5.2'])
    refused(journal([{ stop, movements: [{ ...CPU, quantity }] }]), /<quantity>/);
  refused(
    journal([{ stop, movements: [{ reference: 'slappart0', quantity: '1' }] }]),
    /<resource> is missing/,
  );
  refused(journal([{ stop, movements: [{ ...CPU, resource: '' }] }]), /<resource> is missing or empty/);
  refused(journal([{ stop, movements: [{ ...CPU, reference: undefined }] }]), /<reference>/);
  refused(journal([{ stop, movements: [{ ...CPU, quantity: undefined }] }]), /<quantity> is missing/);
  refused(journal([{ stop, movements: [{ ...CPU, resource: 'x'.repeat(1025) }] }]), /longer than 1024/);
  refused(
    journal([{ stop, movements: [CPU] }]).replace('<resource>', '<resource>a</resource><resource>'),
    /<resource> must be plain text/,
  );
  refused(
    journal([{ stop, movements: [CPU] }]).replace('service_module/cpu_time', '<![CDATA[x]]>'),
    /<resource> must be plain text/,
  );
  refused(
    journal([{ stop, movements: [{ ...CPU, resource: 'a&b;' }] }], (t) => t),
    /unknown XML entity/,
  );
  refused(
    journal([{ stop, movements: [{ ...CPU, resource: 'nul &#0;' }] }], (t) => t),
    /XML 1\.0 cannot carry/,
  );
  refused(
    journal([{ stop, movements: [{ ...CPU, title: '&#xD800;' }] }], (t) => t),
    /XML 1\.0 cannot carry/,
  );
  // One movement over the bound refuses the whole journal.
  const many = Array.from({ length: MAX_USAGE_MOVEMENTS + 1 }, () => CPU);
  refused(journal([{ stop, movements: many }]), /more than 100000 movements/);
});

test('property: resources, titles and references round-trip exactly through the XML', () => {
  const random = seededRandom(15);
  const pieces = [
    ...HOSTILE_PIECES,
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    '&amp;',
    ']]>',
  ];
  for (let i = 0; i < 300; i++) {
    // XML 1.0 cannot carry NUL and most control characters: those are not sent (see the test above).
    const text = () => {
      let value = hostileString(random, 10);
      if (random() < 0.5) value += pieces[Math.floor(random() * pieces.length)];
      return (
        [...value]
          .filter((char) => isXmlCompatible(char))
          .slice(0, 500)
          .join('') || 'x'
      );
    };
    const movement = {
      resource: text(),
      title: random() < 0.2 ? '' : text(),
      reference: text(),
      quantity: '3.25',
    };
    const [parsed] = parseUsageJournal(journal([{ stop: '2026-12-07 at 12:00:00', movements: [movement] }]));
    assert.deepEqual(parsed && [parsed.resource, parsed.title, parsed.reference, parsed.quantity], [
      movement.resource,
      movement.title,
      movement.reference,
      3.25,
    ]);
  }
});
