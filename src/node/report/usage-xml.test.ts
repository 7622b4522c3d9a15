import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUsageJournal } from '../../core/usage-journal.ts';
import { escapeXmlText } from '../../core/xml-text.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { parsePartitionConsumption, usageJournal } from './usage-xml.ts';

function consumption(movement: { resource: string; title: string; quantity: string }): string {
  return (
    `<consumption><movement><resource>${movement.resource}</resource><title>${movement.title}</title>` +
    `<reference>ignored</reference><quantity>${movement.quantity}</quantity><price>0</price>` +
    '<VAT></VAT></movement></consumption>'
  );
}

test('a movement the master would refuse leaves the file invalid instead of the whole journal refused', () => {
  for (const [movement, reason] of [
    [
      { resource: 'r', title: 't', quantity: '-1' },
      /movement 1: the master would refuse it: <quantity> is negative/,
    ],
    [
      { resource: 'r', title: 'a\x01b', quantity: '1' },
      /movement 1: the master would refuse it: <title> holds a character/,
    ],
    [{ resource: 'r'.repeat(1025), title: 't', quantity: '1' }, /<resource> is longer than 1024/],
    [{ resource: '', title: 't', quantity: '1' }, /<resource> is missing or empty/],
  ] as const)
    assert.throws(() => parsePartitionConsumption(consumption(movement), 'slappart0'), reason);
});

/**
 * Whatever a partition writes in its consumption files (escaped or not, character references,
 * every line terminator, NUL and control characters), either the file is refused, or the journal
 * the node builds from it carries the movement to the master exactly as the node read it.
 */
test('property: consumption movements are refused or reach the master exactly', () => {
  const random = seededRandom(6);
  let accepted = 0;
  for (let round = 0; round < 600; round++) {
    const text = (): string => {
      const raw = hostileString(random, 8);
      const choice = random();
      if (choice < 0.6) return escapeXmlText(raw);
      if (choice < 0.8) return raw;
      return `&#${Math.floor(random() * 0x2100)};${escapeXmlText(raw)}`;
    };
    const quantity =
      [String(random() * 1e6), '-0', '1e3', ` 7 `, '-2.5', '0x10'][Math.floor(random() * 6)] ?? '';
    let movements;
    try {
      movements = parsePartitionConsumption(
        consumption({ resource: `r${text()}`, title: text(), quantity }),
        'slappart0',
      );
    } catch {
      continue;
    }
    accepted++;
    const journal = usageJournal({
      computerId: 'COMP-1',
      now: 1_790_000_000,
      start: 1_789_990_000,
      movements,
    });
    const [received] = parseUsageJournal(journal);
    const [sent] = movements;
    assert.ok(received && sent);
    assert.deepEqual(
      [received.resource, received.title, received.reference, received.quantity],
      [sent.resource, sent.title ?? null, 'slappart0', sent.quantity],
      `round ${round}`,
    );
    assert.deepEqual([received.start, received.stop], [1_789_990_000, 1_790_000_000]);
  }
  assert.ok(accepted > 60, `only ${accepted} accepted: the property is not exercised`);
});
