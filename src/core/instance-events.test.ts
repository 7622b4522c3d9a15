import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { requestedStateEvent, truncateUtf8 } from './instance-events.ts';

test('property: truncateUtf8 keeps the longest prefix that fits, never splitting a character', () => {
  const random = seededRandom(5);
  const pieces = ['a', 'é', '€', '\ud83d\ude00', '\ud800', '\udc00', '\0', '\u2028'];
  for (let round = 0; round < 2000; round++) {
    let text = hostileString(random, 40);
    for (let n = Math.floor(random() * 60); n > 0; n--) text += pieces[Math.floor(random() * pieces.length)];
    const max = Math.floor(random() * 80);
    const cut = truncateUtf8(text, max);
    assert.ok(text.startsWith(cut));
    assert.ok(Buffer.byteLength(cut) <= max, JSON.stringify({ text, max }));
    if (cut === text) continue;
    const next = String.fromCodePoint(text.codePointAt(cut.length) ?? 0);
    assert.ok(Buffer.byteLength(cut + next) > max, 'the next character would not fit');
    const split = /[\ud800-\udbff]$/.test(cut) && /^[\udc00-\udfff]/.test(text.slice(cut.length));
    assert.ok(!split, 'no pair is split');
  }
  assert.equal(truncateUtf8('\ud83d\ude00\ud83d\ude00', 7), '\ud83d\ude00');
  assert.equal(truncateUtf8('ééé', 5), 'éé');
});

test('a requested state names its event', () => {
  assert.equal(requestedStateEvent('started'), 'start_requested');
  assert.equal(requestedStateEvent('stopped'), 'stop_requested');
  assert.equal(requestedStateEvent('destroyed'), 'destroy_requested');
});
