import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import {
  binaryEntryJson,
  binaryEntryKey,
  directoryPutBody,
  parseBinaryEntry,
  parseDirectoryListing,
  parseEntryObject,
  parseLegacyOsRepr,
  parseSourceEntry,
  pythonJsonDumps,
  sourceEntryKey,
  type OsTriple,
} from './entry.ts';

const SHA = 'ab'.repeat(64);

test('keys: md5 of the URL, file-urlmd5: for sources', () => {
  assert.match(binaryEntryKey('x'), /^[0-9a-f]{32}$/);
  assert.equal(binaryEntryKey('x'), '9dd4e461268c8034f5c8564e155c67a6');
  assert.equal(sourceEntryKey('x'), 'file-urlmd5:9dd4e461268c8034f5c8564e155c67a6');
});

test('pythonJsonDumps writes what Python json.dumps writes', () => {
  // Expected strings as printed by python3 -c 'import json; print(json.dumps(...))'.
  assert.equal(pythonJsonDumps({ a: 'é\n', b: ['x', 'y'] }), '{"a": "\\u00e9\\n", "b": ["x", "y"]}');
  assert.equal(
    pythonJsonDumps(['\ud83d\ude00', '\u2028', '\x7f', '\x00', '/']),
    '["\\ud83d\\ude00", "\\u2028", "\\u007f", "\\u0000", "/"]',
  );
  assert.equal(pythonJsonDumps({}), '{}');
  assert.equal(pythonJsonDumps([]), '[]');
  assert.equal(directoryPutBody('{"sha512": "x"}', 'c2ln'), '["{\\"sha512\\": \\"x\\"}", "c2ln"]');
});

test('property: pythonJsonDumps is ASCII and parses back to the same value', () => {
  const random = seededRandom(11);
  for (let i = 0; i < 500; i++) {
    const value = {
      [hostileString(random)]: [hostileString(random), hostileString(random)],
      k: hostileString(random),
    };
    const text = pythonJsonDumps(value);
    assert.match(text, /^[\x00-\x7f]*$/);
    assert.deepEqual(JSON.parse(text), value);
  }
});

test('property: a binary entry round-trips exactly, whatever its strings', () => {
  const random = seededRandom(12);
  for (let i = 0; i < 500; i++) {
    const entry = {
      sha512: SHA,
      softwareUrl: hostileString(random),
      softwareRoot: hostileString(random),
      multiarch: hostileString(random),
      os: [hostileString(random), hostileString(random), hostileString(random)] as OsTriple,
    };
    const parsed = parseBinaryEntry(binaryEntryJson(entry));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, entry);
  }
});

test('property: hostile shadir answers are refused or parsed, never thrown', () => {
  const random = seededRandom(13);
  const samples = [
    '',
    'null',
    '{}',
    '"x"',
    '[1]',
    '[[1, 2]]',
    '[["a"]]',
    '[["a", "b", "c"]]',
    '[{"0": "a", "1": "b"}]',
    '[["{\\"__proto__\\": {\\"sha512\\": 1}}", ""]]',
  ];
  for (let i = 0; i < 500; i++) samples.push(hostileString(random), `[["${hostileString(random)}", "x"]]`);
  for (const body of samples) {
    const listing = parseDirectoryListing(body);
    if (!listing.ok) {
      assert.match(listing.reason, /shadir answer/);
      continue;
    }
    for (const pair of listing.value.pairs) {
      assert.equal(typeof pair.entryJson, 'string');
      const entry = parseBinaryEntry(pair.entryJson);
      if (!entry.ok) assert.ok(entry.reason.length > 0);
    }
  }
  const mixed = parseDirectoryListing('[["{}", "sig"], [1, 2], "x", ["a", "b", "c"]]');
  assert.ok(mixed.ok);
  assert.equal(mixed.value.pairs.length, 1);
  assert.deepEqual(mixed.value.skipped, [
    'entry 1: not a [entry, signature] pair of strings',
    'entry 2: not a [entry, signature] pair of strings',
    'entry 3: not a [entry, signature] pair of strings',
  ]);
  assert.deepEqual(parseDirectoryListing('{"a": 1}'), {
    ok: false,
    reason: 'the shadir answer is not a JSON list',
  });
});

test('entries without a valid sha512, multiarch or os are refused with a reason', () => {
  const cases: [string, RegExp][] = [
    ['[]', /not a JSON object/],
    ['nope', /not JSON/],
    [JSON.stringify({ sha512: 'AB'.repeat(64), multiarch: 'x', os: ['a', 'b', 'c'] }), /sha512/],
    [JSON.stringify({ sha512: SHA.slice(1), multiarch: 'x', os: ['a', 'b', 'c'] }), /sha512/],
    [JSON.stringify({ sha512: SHA, os: ['a', 'b', 'c'] }), /multiarch/],
    [JSON.stringify({ sha512: SHA, multiarch: 'x', os: ['a', 'b'] }), /os/],
    [JSON.stringify({ sha512: SHA, multiarch: 'x', os: ['a', 'b', 3] }), /os/],
    ['{"__proto__": {"sha512": "' + SHA + '"}, "multiarch": "x", "os": ["a", "b", "c"]}', /sha512/],
  ];
  for (const [json, reason] of cases) {
    const parsed = parseBinaryEntry(json);
    assert.equal(parsed.ok, false, json);
    if (!parsed.ok) assert.match(parsed.reason, reason, json);
  }
  const object = parseEntryObject('{"__proto__": {"polluted": true}}');
  assert.ok(object.ok);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('legacy entries (machine x86_64, os as a Python tuple repr) are read as slapos.core does', () => {
  const parsed = parseBinaryEntry(
    JSON.stringify({ sha512: SHA, machine: 'x86_64', os: "('debian', '8.11', '')" }),
  );
  assert.ok(parsed.ok);
  assert.equal(parsed.value.multiarch, 'x86_64-linux-gnu');
  assert.deepEqual(parsed.value.os, ['debian', '8.11', '']);
  assert.deepEqual(parseLegacyOsRepr('("Ubuntu", "20.04", "focal")'), ['Ubuntu', '20.04', 'focal']);
  assert.equal(parseLegacyOsRepr("('a', 'b')"), undefined);
  assert.equal(parseLegacyOsRepr("__import__('os')"), undefined);
  assert.equal(
    parseBinaryEntry(JSON.stringify({ sha512: SHA, machine: 'i686', os: "('a', 'b', 'c')" })).ok,
    false,
  );
});

test('source entries need a sha512; the url is optional', () => {
  assert.deepEqual(parseSourceEntry(JSON.stringify({ sha512: SHA, url: 'http://x/y.tgz' })), {
    ok: true,
    value: { sha512: SHA, url: 'http://x/y.tgz' },
  });
  assert.equal(parseSourceEntry(JSON.stringify({ url: 'x' })).ok, false);
});
