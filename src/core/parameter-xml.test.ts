import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareCodePoints,
  decodeParameterXml,
  encodeParameterXml,
  parametersAsStored,
} from './parameter-xml.ts';

test('parameters encode as lxml pretty-prints them, keys sorted', () => {
  assert.equal(
    encodeParameterXml({ p1: 'v1', num: 3 }),
    "<?xml version='1.0' encoding='utf-8'?>\n<instance>\n" +
      '  <parameter id="num">3</parameter>\n  <parameter id="p1">v1</parameter>\n</instance>\n',
  );
  assert.equal(encodeParameterXml({}), "<?xml version='1.0' encoding='utf-8'?>\n<instance/>\n");
  assert.equal(
    encodeParameterXml({ empty: '', b: true, n: null, d: { a: 1 } }),
    "<?xml version='1.0' encoding='utf-8'?>\n<instance>\n" +
      '  <parameter id="b">True</parameter>\n' +
      '  <parameter id="d">{\'a\': 1}</parameter>\n' +
      '  <parameter id="empty"></parameter>\n' +
      '  <parameter id="n">None</parameter>\n</instance>\n',
  );
  assert.equal(
    encodeParameterXml({ 'k"&\t': 'a&b<c>\r\nd' }),
    "<?xml version='1.0' encoding='utf-8'?>\n<instance>\n" +
      '  <parameter id="k&quot;&amp;&#9;">a&amp;b&lt;c&gt;&#13;\nd</parameter>\n</instance>\n',
  );
});

test('encoding refuses characters XML cannot carry', () => {
  assert.throws(() => encodeParameterXml({ a: '\u0001' }), /XML cannot carry/);
  assert.throws(() => encodeParameterXml({ '\u0000': 'x' }), /XML cannot carry/);
});

test('decoding: strings, empty element is null, repeated keys joined, other elements ignored', () => {
  const original = { num: 3, text: 'Привет & <мир>\r\n\tok', empty: '', flag: false };
  assert.deepEqual(decodeParameterXml(encodeParameterXml(original)), {
    empty: null,
    flag: 'False',
    num: '3',
    text: 'Привет & <мир>\r\n\tok',
  });
  assert.deepEqual(decodeParameterXml(null), {});
  assert.deepEqual(decodeParameterXml(''), {});
  assert.deepEqual(
    decodeParameterXml(
      '<?xml version="1.0"?><instance><parameter id="a">x</parameter><other id="b">y</other>' +
        '<parameter id=\'a\'>z</parameter><parameter id="c"/><!-- c --><parameter id="d"><![CDATA[<raw>]]></parameter></instance>',
    ),
    { a: 'x z', c: null, d: '<raw>' },
  );
  assert.throws(() => decodeParameterXml('<instance><parameter id="a">x</instance>'), /malformed/);
});

test('parametersAsStored is the round trip through parameter XML', () => {
  const samples = [{}, { b: 1, a: '', c: { x: [1.5, null] }, d: 'line\r\nnext & <tag>', é: true }];
  for (const sample of samples) {
    assert.deepEqual(parametersAsStored(sample), decodeParameterXml(encodeParameterXml(sample)));
    assert.deepEqual(
      Object.keys(parametersAsStored(sample)),
      Object.keys(decodeParameterXml(encodeParameterXml(sample))),
    );
  }
});

test('keys sort by code point like Python', () => {
  const keys = ['\u{1F600}', '\uffff', 'b', 'a', 'B'];
  assert.deepEqual(keys.sort(compareCodePoints), ['B', 'a', 'b', '\uffff', '\u{1F600}']);
});

test('parameter XML and the stored view list keys in code point order, whatever the input order', () => {
  const parameters = { '\u{1F600}': 1, z: 2, '\ufffd': 3, b: 4, a: 5, B: 6, aa: 7, '': 8 };
  const expected = ['', 'B', 'a', 'aa', 'b', 'z', '\ufffd', '\u{1F600}'];
  assert.deepEqual(Object.keys(parametersAsStored(parameters)), expected);
  const ids = [...encodeParameterXml(parameters).matchAll(/id="([^"]*)"/gu)].map((match) => match[1]);
  assert.deepEqual(ids, expected);
});

/** Code point order computed another way: arrays of code points compared element by element. */
function referenceOrder(keys: string[]): string[] {
  const points = new Map(keys.map((key) => [key, Array.from(key, (char) => char.codePointAt(0) ?? 0)]));
  return [...keys].sort((a, b) => {
    const x = points.get(a) ?? [];
    const y = points.get(b) ?? [];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
    }
    return x.length - y.length;
  });
}

test('keys sort by code point at every size (small dictionaries and large ones sort differently)', () => {
  // Units where UTF-16 order and code point order disagree (surrogates vs U+E000-U+FFFF), line
  // terminators and controls; no digits (JS objects enumerate integer-like keys first).
  const alphabet = ['a', 'B', '\ue000', '\ufffd', '\u{1F600}', '\u{10FFFF}', '\u2028', '\r', '\x85', ' '];
  let seed = 7;
  const random = (below: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % below;
  };
  for (const size of [0, 1, 2, 15, 16, 17, 40, 1000, 20_000]) {
    const parameters: Record<string, string> = {};
    for (let count = 0; count < size;) {
      let key = '';
      for (let length = 1 + random(6); length > 0; length--) key += alphabet[random(alphabet.length)];
      if (!(key in parameters)) count++;
      parameters[key] = key;
    }
    const expected = referenceOrder(Object.keys(parameters));
    assert.deepEqual(Object.keys(parametersAsStored(parameters)), expected, `size ${size}`);
    assert.deepEqual(
      Object.keys(decodeParameterXml(encodeParameterXml(parameters))),
      expected,
      `size ${size}`,
    );
  }
});
