import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSlapError } from '../../core/errors.ts';
import { seededChoices } from '../../testing/hostile-strings.ts';
import {
  decodeBody,
  decodeLargeBody,
  MAX_JSON_VALUES,
  MAX_NESTING,
  MAX_OBJECT_MEMBERS,
  parseJsonBody,
} from './request-body.ts';

function refusedWith(text: string): string | undefined {
  try {
    parseJsonBody(text);
    return undefined;
  } catch (error) {
    assert.ok(isSlapError(error), String(error));
    return `${error.status} ${error.message}`;
  }
}

test('values are counted exactly, whatever the shape: the cap is reached, not passed', () => {
  const scalars = ['0', '"s"', '"a,b:c[{"', 'true', 'null', '[]', '{}', ' "x" ', '"\\"]"'];
  for (const scalar of scalars) {
    // One object with a member holding an array: 1 member + the array's items.
    const items = (count: number): string => `{"list":[${new Array<string>(count).fill(scalar).join(',')}]}`;
    assert.equal(refusedWith(items(MAX_JSON_VALUES - 1)), undefined, scalar);
    assert.match(refusedWith(items(MAX_JSON_VALUES)) ?? '', /^413 .*more than 50000 values/, scalar);
    // Arrays of arrays: each inner array is an item, and so are its items.
    const pairs = (count: number): string => `[${new Array<string>(count).fill(`[${scalar}]`).join(',')}]`;
    assert.equal(refusedWith(pairs(MAX_JSON_VALUES / 2)), undefined, scalar);
    assert.match(refusedWith(pairs(MAX_JSON_VALUES / 2 + 1)) ?? '', /^413 /, scalar);
  }
});

test('members per object: the cap is reached, not passed, at any depth; siblings count apart', () => {
  const object = (count: number): string =>
    `{${Array.from({ length: count }, (_, i) => `"k${i}":{"a":1,"b":[1,{"c":2}]}`).join(',')}}`;
  assert.equal(refusedWith(object(MAX_OBJECT_MEMBERS)), undefined);
  assert.match(refusedWith(object(MAX_OBJECT_MEMBERS + 1)) ?? '', /^413 .*more than 1000 members/);
  assert.match(refusedWith(`{"a":{"b":${object(MAX_OBJECT_MEMBERS + 1)}}}`) ?? '', /^413 /);
  // Keys that look like structure inside strings count once.
  const tricky = `{${Array.from({ length: MAX_OBJECT_MEMBERS }, (_, i) => `"k:${i},\\"":"v:,{["`).join(',')}}`;
  assert.equal(refusedWith(tricky), undefined);
});

test('nesting, unbalanced brackets, repeated keys and prototype keys', () => {
  assert.equal(refusedWith(`${'['.repeat(MAX_NESTING)}${']'.repeat(MAX_NESTING)}`), undefined);
  assert.match(
    refusedWith(`${'['.repeat(MAX_NESTING + 1)}${']'.repeat(MAX_NESTING + 1)}`) ?? '',
    /^400 .*nested/,
  );
  assert.match(refusedWith(`]${'['.repeat(200)}`) ?? '', /^400 /);
  assert.match(refusedWith('{"a":1,"b":{"c":1,"c":2}}') ?? '', /^400 .*repeats a key/);
  assert.match(refusedWith('{"a":1,"\\u0061":2}') ?? '', /^400 .*repeats a key/);
  assert.equal(refusedWith('{"a":{"a":{"a":[{"a":1},{"a":2}]}}}'), undefined);
  assert.match(refusedWith('{"__proto__":{"x":1}}') ?? '', /^400 .*forbidden key/);
  assert.match(refusedWith('{"constructor":{"prototype":{}}}') ?? '', /^400 .*forbidden key/);
});

test('decoding accepts exactly the valid UTF-8 a strict TextDecoder accepts, with the same text', () => {
  const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const interesting = [
    0x00, 0x22, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
  ];
  const random = seededChoices(99);
  for (let round = 0; round < 5000; round++) {
    const bytes = Buffer.from(
      Array.from({ length: 1 + random(8) }, () =>
        random(2) === 0 ? (interesting[random(interesting.length)] ?? 0) : random(256),
      ),
    );
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) continue;
    let expected: string | undefined;
    try {
      expected = strict.decode(bytes);
    } catch {
      expected = undefined;
    }
    let actual: string | undefined;
    try {
      actual = decodeBody(bytes);
    } catch {
      actual = undefined;
    }
    assert.equal(actual, expected, bytes.toString('hex'));
  }
  assert.throws(() => decodeBody(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), /byte order mark/);
});

test('structure inside random strings is never counted: the member cap is exact for any text', () => {
  const random = seededChoices(1207);
  const units = [
    'a',
    '"',
    '\\',
    ':',
    ',',
    '{',
    '}',
    '[',
    ']',
    '\\"',
    '\n',
    '\u2028',
    '\u0000',
    'é',
    '\u{1F600}',
  ];
  const text = (): string => Array.from({ length: random(12) }, () => units[random(units.length)]).join('');
  for (let round = 0; round < 40; round++) {
    const members = Array.from({ length: MAX_OBJECT_MEMBERS }, (_, i) => [`${text()}#${i}`, text()]);
    const nested = `[${JSON.stringify(text())},{"k":${JSON.stringify(text())}}]`;
    const object = (extra: boolean): string =>
      `{${members.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}${extra ? `,"x":${nested}` : ''}}`;
    assert.equal(refusedWith(object(false)), undefined);
    assert.deepEqual(parseJsonBody(object(false)), Object.fromEntries(members));
    assert.match(refusedWith(object(true)) ?? '', /^413 .*more than 1000 members/);
  }
});

test('decoding in chunks gives what decoding the whole body gives, wherever the chunks are cut', async () => {
  const random = seededChoices(314);
  const valid = ['a', '"', '\n', '\u2028', '\x85', '\u0000', 'é', '€', '\u{1F600}', '\u{10FFFF}', '\ufeff'];
  // Invalid: a lone continuation, overlong, a surrogate, a truncated sequence, past U+10FFFF, 0xFF.
  const invalidBytes = [
    [0x80],
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
    [0xe2, 0x82],
    [0xf4, 0x90, 0x80, 0x80],
    [0xff],
  ];
  const outcome = async (run: () => string | Promise<string>): Promise<string> => {
    try {
      return `ok ${await run()}`;
    } catch (error) {
      assert.ok(isSlapError(error), String(error));
      return `error ${error.message}`;
    }
  };
  for (let round = 0; round < 2000; round++) {
    const parts: Buffer[] = [];
    for (let i = random(40); i > 0; i--) {
      if (random(60) === 0) parts.push(Buffer.from(invalidBytes[random(invalidBytes.length)] ?? []));
      else parts.push(Buffer.from(valid[random(valid.length)] ?? ''));
    }
    if (random(20) === 0) parts.unshift(Buffer.from([0xef, 0xbb, 0xbf]));
    const bytes = Buffer.concat(parts);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const length = 1 + random(8);
      chunks.push(bytes.subarray(at, at + length));
      at += length;
    }
    const expected = await outcome(() => decodeBody(bytes));
    assert.equal(await outcome(() => decodeLargeBody(chunks)), expected, bytes.toString('hex'));
  }
  // Large: decoded over several event-loop turns, sequences cut between 64 KiB chunks.
  const large = Buffer.from(`"${'a€\u{1F600}é'.repeat(70_000)}"`);
  const chunks = Array.from({ length: Math.ceil(large.length / 65_536) }, (_, i) =>
    large.subarray(i * 65_536, (i + 1) * 65_536),
  );
  assert.equal(await decodeLargeBody(chunks), decodeBody(large));
});
