import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAPTURED_COMPUTER } from '../testing/captured-slapproxy.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { throwsSlapError } from '../testing/slap-error-assert.ts';
import { SlapError } from './errors.ts';
import { PyNumber, pyFloatRepr } from './python-value.ts';
import { isXmlCompatible } from './xml-text.ts';
import {
  MAX_MARSHAL_DEPTH,
  MAX_MARSHAL_VALUES,
  PyObject,
  PyTuple,
  SLAP_MODULE,
  decodeMarshal,
  decodeMarshalDict,
  decodeMarshalString,
  encodeMarshal,
  type MarshalDict,
  type MarshalValue,
} from './xml-marshaller.ts';

/** The decoded value with plain-prototype dictionaries, for deepEqual against literals. */
function plain(value: MarshalValue): MarshalValue {
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof PyTuple) return new PyTuple(value.items.map(plain));
  if (value instanceof PyObject) {
    return new PyObject(value.module, value.className, value.args.map(plain), plainDict(value.attributes));
  }
  if (value !== null && typeof value === 'object' && !(value instanceof PyNumber)) return plainDict(value);
  return value;
}

function plainDict(dict: MarshalDict): MarshalDict {
  const out: MarshalDict = {};
  for (const [key, item] of Object.entries(dict)) out[key] = plain(item);
  return out;
}

function slap(className: string, args: MarshalValue[], attributes: MarshalDict): PyObject {
  return new PyObject(SLAP_MODULE, className, args, attributes);
}

function bothWays(value: MarshalValue, xml: string): void {
  assert.equal(encodeMarshal(value), xml);
  assert.deepEqual(plain(decodeMarshal(xml)), value);
}

test('captured small samples (protocol.md §3.3), both ways', () => {
  bothWays('started', '<marshal><string>started</string></marshal>');
  bothWays(null, '<marshal><none/></marshal>');
  bothWays(false, '<marshal><bool>0</bool></marshal>');
  bothWays({}, '<marshal><dictionary id="i2"/></marshal>');
  bothWays(
    { p1: 'v1', num: 3 },
    '<marshal><dictionary id="i2"><string>num</string><int>3</int><string>p1</string><string>v1</string></dictionary></marshal>',
  );
  bothWays(
    { key: '', certificate: '' },
    '<marshal><dictionary id="i2"><string>certificate</string><string></string><string>key</string><string></string></dictionary></marshal>',
  );
  bothWays(
    { url: 'http://a&b<c>' },
    '<marshal><dictionary id="i2"><string>url</string><string>http://a&amp;amp;b&amp;lt;c&amp;gt;</string></dictionary></marshal>',
  );
  bothWays('', '<marshal><string></string></marshal>');
});

const SR = 'https://example.com/sr/software.cfg';

const FULL_COMPUTER = slap('Computer', ['COMP-0'], {
  _computer_id: 'COMP-0',
  _computer_partition_list: [
    slap('ComputerPartition', ['COMP-0', 'slappart0', null], {
      _computer_id: 'COMP-0',
      _connection_dict: { url: 'https://a?x=1&y=2' },
      _instance_guid: 'COMP-0-slappart0',
      _need_modification: 1,
      _parameter_dict: {
        foo: 'bar',
        full_address_list: [],
        instance_title: 'MyInstance',
        ip_list: [new PyTuple(['slaptap0', '10.0.0.10']), new PyTuple(['slaptap0', 'fd00::10'])],
        root_instance_title: 'MyInstance',
        slap_computer_id: 'COMP-0',
        slap_computer_partition_id: 'slappart0',
        slap_software_release_url: SR,
        slap_software_type: 'default',
        slave_instance_list: [
          {
            slap_software_type: 'default',
            slave_reference: '_MyShared',
            slave_title: '_MyShared',
            url: 'https://backend',
          },
        ],
        timestamp: '1700000100.5',
      },
      _partition_id: 'slappart0',
      _request_dict: null,
      _requested_state: 'started',
      _software_release_document: slap('SoftwareRelease', [SR, 'COMP-0'], {
        _computer_guid: 'COMP-0',
        _software_instance_list: [],
        _software_release: SR,
      }),
    }),
    slap('ComputerPartition', ['COMP-0', 'slappart1', null], {
      _computer_id: 'COMP-0',
      _instance_guid: 'COMP-0-slappart1',
      _need_modification: 0,
      _partition_id: 'slappart1',
      _request_dict: null,
      _requested_state: 'destroyed',
      _software_release_document: null,
    }),
  ],
  _software_release_list: [
    slap('SoftwareRelease', [SR, 'COMP-0'], {
      _computer_guid: 'COMP-0',
      _requested_state: 'available',
      _software_instance_list: [],
      _software_release: SR,
    }),
  ],
});

// protocol.md §3.6, as captured.
const FULL_COMPUTER_XML = CAPTURED_COMPUTER;

test('the captured getFullComputerInformation document (protocol.md §3.6), byte for byte and back', () => {
  bothWays(FULL_COMPUTER, FULL_COMPUTER_XML);
  // The indented form reads the same: whitespace between container children is ignored.
  const indented = FULL_COMPUTER_XML.replace(/></g, '>\n  \t<');
  assert.equal(encodeMarshal(decodeMarshal(indented)), FULL_COMPUTER_XML);
});

test('the captured requestComputerPartition answer (protocol.md §3.6 step 3), both ways', () => {
  const answer = slap('SoftwareInstance', [], {
    _connection_dict: {},
    _instance_guid: 'COMP-0-slappart0',
    _parameter_dict: { foo: 'bar', timestamp: '1700000000.25' },
    _requested_state: 'started',
    connection_xml: null,
    ip_list: [new PyTuple(['slaptap0', '10.0.0.10']), new PyTuple(['slaptap0', 'fd00::10'])],
    slap_computer_id: 'COMP-0',
    slap_computer_partition_id: 'slappart0',
    slap_server_url: 'slap_server_url',
    slap_software_release_url: SR,
    slap_software_type: 'default',
  });
  bothWays(
    answer,
    '<marshal><object id="i2" module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary id="i3"><string>_connection_dict</string><dictionary id="i4"/><string>_instance_guid</string><string>COMP-0-slappart0</string><string>_parameter_dict</string><dictionary id="i5"><string>foo</string><string>bar</string><string>timestamp</string><string>1700000000.25</string></dictionary><string>_requested_state</string><string>started</string><string>connection_xml</string><none/><string>ip_list</string><list id="i6"><tuple><string>slaptap0</string><string>10.0.0.10</string></tuple><tuple><string>slaptap0</string><string>fd00::10</string></tuple></list><string>slap_computer_id</string><string>COMP-0</string><string>slap_computer_partition_id</string><string>slappart0</string><string>slap_server_url</string><string>slap_server_url</string><string>slap_software_release_url</string><string>https://example.com/sr/software.cfg</string><string>slap_software_type</string><string>default</string></dictionary></object></marshal>',
  );
});

test('numbers: ints, longs from 1e24, floats as Python repr, PyNumber keeps its type', () => {
  const cases: [MarshalValue, string][] = [
    [0, '<int>0</int>'],
    [-42, '<int>-42</int>'],
    [2 ** 53, '<int>9007199254740992</int>'],
    [1e23, '<int>99999999999999991611392</int>'],
    [1e24, '<long>999999999999999983222784</long>'],
    [-1e24, '<long>-999999999999999983222784</long>'],
    [new PyNumber('999999999999999983222783'), '<int>999999999999999983222783</int>'],
    [new PyNumber('-999999999999999983222784'), '<long>-999999999999999983222784</long>'],
    [1.5, '<float>1.5</float>'],
    [-0, '<float>-0.0</float>'],
    [1e-7, '<float>1e-07</float>'],
    [Infinity, '<float>inf</float>'],
    [-Infinity, '<float>-inf</float>'],
    [NaN, '<float>nan</float>'],
    [new PyNumber('1.0'), '<float>1.0</float>'],
    [new PyNumber('1e20'), '<float>1e+20</float>'],
    [new PyNumber('12345678901234567890'), '<int>12345678901234567890</int>'],
    [new PyNumber('-123456789012345678901234567'), '<long>-123456789012345678901234567</long>'],
    [new PyNumber('inf'), '<float>inf</float>'],
    [new PyNumber('nan'), '<float>nan</float>'],
    [true, '<bool>1</bool>'],
  ];
  for (const [value, element] of cases) assert.equal(encodeMarshal(value), `<marshal>${element}</marshal>`);

  const decoded: [string, MarshalValue][] = [
    ['<int>42</int>', 42],
    ['<int> -007 </int>', -7],
    ['<int>-0</int>', 0],
    ['<long>42</long>', 42],
    ['<int>12345678901234567890</int>', new PyNumber('12345678901234567890')],
    ['<long>+0001000000000000000000000000</long>', new PyNumber('1000000000000000000000000')],
    ['<float>1.5</float>', new PyNumber('1.5')],
    ['<float>1e20</float>', new PyNumber('1e+20')],
    ['<float> 100 </float>', new PyNumber('100.0')],
    ['<float>.5</float>', new PyNumber('0.5')],
    ['<float>-Infinity</float>', new PyNumber('-inf')],
    ['<float>inf</float>', new PyNumber('inf')],
    ['<float>NaN</float>', new PyNumber('nan')],
    ['<float>1e999</float>', new PyNumber('inf')],
    ['<bool>1</bool>', true],
    ['<bool>0</bool>', false],
    ['<bool>2</bool>', true],
    ['<bool>123456789012345678901234567890</bool>', true],
  ];
  for (const [element, value] of decoded) {
    assert.deepEqual(decodeMarshal(`<marshal>${element}</marshal>`), value, element);
  }
  const inf = decodeMarshal('<marshal><float>inf</float></marshal>') as PyNumber;
  assert.equal(inf.value, Infinity);
  assert.equal(inf.isFloat, true);
});

test('decoding accepts what XML allows: declaration, whitespace, quotes, comments, CDATA, raw UTF-8, aliases', () => {
  const value = decodeMarshal(
    "\ufeff<?xml version='1.0' encoding='utf-8'?>\n<marshal>\n <dictionary id='i2' >\n" +
      '  <!-- a comment -->\n  <unicode>Привет 😀</unicode><string>a<!-- x -->b<![CDATA[<&>]]>&#x1F600;&#1055;</string>\n' +
      '  <int>1</int><set id="i3"><int>1</int></set>\r\n  <none/><bool>1</bool>\n' +
      '  <float>1.5</float><long>2</long>\n' +
      '  <string>l</string><list id="i4"><string> keep \t spaces </string></list>\n' +
      '  <string>r</string><reference id="i4"/>\n' +
      '  <string>lf</string><string>a\r\nb\rc&#13;&#10;</string>\n' +
      ' </dictionary>\n</marshal>\n',
  ) as MarshalDict;
  assert.equal(Object.getPrototypeOf(value), null);
  assert.deepEqual(plain(value), {
    'Привет 😀': 'ab<&>😀П',
    '1': [1],
    None: true,
    '1.5': 2,
    l: [' keep \t spaces '],
    r: [' keep \t spaces '],
    lf: 'a\nb\nc\r\n',
  });
  // A reference is the same object as the container it names.
  assert.equal(value.l, value.r);
  assert.deepEqual(plain(decodeMarshal('<marshal><tuple></tuple></marshal>')), new PyTuple([]));
  // A dictionary's __proto__ key is a key like any other.
  const proto = decodeMarshalDict(
    '<marshal><dictionary id="i2"><string>__proto__</string><int>1</int></dictionary></marshal>',
    'x',
  );
  assert.equal(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value, 1);
  assert.equal(
    encodeMarshal(proto),
    '<marshal><dictionary id="i2"><string>__proto__</string><int>1</int></dictionary></marshal>',
  );
});

test('strings that look like escapes survive (double escaping), non-ASCII goes out as references', () => {
  const tricky = ['&lt;', '&amp;lt;', '&gt;&amp;', '<![CDATA[x]]>', '"\'', '&#13;', '\r\n', 'é😀\u2028\x85'];
  for (const text of tricky) {
    const xml = encodeMarshal(text);
    assert.match(xml, /^[\x00-\x7f]*$/);
    assert.equal(decodeMarshal(xml), text);
  }
  assert.equal(encodeMarshal('é😀\r'), '<marshal><string>&#233;&#128512;&#13;</string></marshal>');
  assert.equal(encodeMarshal('&lt;'), '<marshal><string>&amp;amp;lt;</string></marshal>');
  // The second unescaping reads only the decoded text, not the rest of the buffer it was decoded in.
  assert.equal(decodeMarshal('<marshal><string>&amp;lt;&amp;</string></marshal>'), '<&');
  assert.equal(decodeMarshal('<marshal><string>&amp;lt;&amp;g</string></marshal>'), '<&g');
});

const TRICKY_PIECES = [
  '&lt;',
  '&amp;',
  '&gt;',
  '&#10;',
  ']]>',
  '<marshal>',
  '</string>',
  '"',
  "'",
  '\ud83d\ude00',
  '\u{10ffff}',
];

function randomString(random: () => number): string {
  let text = '';
  const pieces = Math.floor(random() * 4);
  for (let i = 0; i < pieces; i++) {
    text +=
      random() < 0.6 ? hostileString(random, 6) : TRICKY_PIECES[Math.floor(random() * TRICKY_PIECES.length)];
  }
  return text;
}

function randomValue(random: () => number, depth: number): MarshalValue {
  const kind = Math.floor(random() * (depth > 5 ? 6 : 11));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return Math.floor((random() - 0.5) * 2 ** (random() * 60));
    case 3:
      return [0.1, -2.5e-300, 1e300, 123.456, -0][Math.floor(random() * 5)] as number;
    case 4:
      return new PyNumber(
        ['1.0', '1e+20', '123456789012345678901234567890', 'inf', '-inf'][Math.floor(random() * 5)] as string,
      );
    case 5:
      return randomString(random);
    case 6:
    case 7: {
      const dict: MarshalDict = {};
      const size = Math.floor(random() * 4);
      for (let i = 0; i < size; i++) dict[randomString(random)] = randomValue(random, depth + 1);
      return dict;
    }
    case 8:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    case 9:
      return new PyTuple(
        Array.from({ length: Math.floor(random() * 3) }, () => randomValue(random, depth + 1)),
      );
    default: {
      const classes = ['Computer', 'ComputerPartition', 'SoftwareRelease', 'SoftwareInstance'];
      const attributes: MarshalDict = {};
      attributes[randomString(random)] = randomValue(random, depth + 1);
      return slap(classes[Math.floor(random() * 4)] as string, [randomValue(random, depth + 1)], attributes);
    }
  }
}

/** Whether every string of the value (keys included) is carriable by XML. */
function carriable(value: MarshalValue): boolean {
  if (typeof value === 'string') return isXmlCompatible(value);
  if (Array.isArray(value)) return value.every(carriable);
  if (value instanceof PyTuple) return value.items.every(carriable);
  if (value instanceof PyObject) return value.args.every(carriable) && carriable(value.attributes);
  if (value !== null && typeof value === 'object' && !(value instanceof PyNumber)) {
    return Object.entries(value).every(([key, item]) => isXmlCompatible(key) && carriable(item));
  }
  return true;
}

/** Floats decode as PyNumber (their Python repr): what a value is expected to decode to. */
function asDecoded(value: MarshalValue): MarshalValue {
  if (typeof value === 'number' && (!Number.isInteger(value) || Object.is(value, -0))) {
    return new PyNumber(pyFloatRepr(value));
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value))
    return new PyNumber(BigInt(value).toString());
  if (value instanceof PyNumber) {
    return value.isFloat
      ? new PyNumber(pyFloatRepr(value.value))
      : new PyNumber(BigInt(value.source).toString());
  }
  if (Array.isArray(value)) return value.map(asDecoded);
  if (value instanceof PyTuple) return new PyTuple(value.items.map(asDecoded));
  if (value instanceof PyObject) {
    return slap(value.className, value.args.map(asDecoded), asDecoded(value.attributes) as MarshalDict);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, asDecoded(item)]));
  }
  return value;
}

test('property: random nested values round-trip exactly; uncarriable strings are refused', () => {
  const random = seededRandom(9);
  let roundTrips = 0;
  let refusals = 0;
  for (let i = 0; i < 1500; i++) {
    const value = randomValue(random, 0);
    if (!carriable(value)) {
      throwsSlapError(() => encodeMarshal(value), 'SLAP_ERR_INVALID_INPUT', /XML cannot carry/);
      refusals++;
      continue;
    }
    const xml = encodeMarshal(value);
    assert.match(xml, /^[\x00-\x7f]*$/, 'the output is ASCII');
    const decoded = decodeMarshal(xml);
    assert.deepEqual(plain(decoded), asDecoded(value));
    assert.equal(encodeMarshal(decoded), xml, 'decoding then encoding gives the same bytes');
    roundTrips++;
  }
  assert.ok(roundTrips > 500 && refusals > 100, `${roundTrips} round trips, ${refusals} refusals`);
});

test('property: any string XML can carry round-trips, any other is refused', () => {
  const random = seededRandom(10);
  for (let i = 0; i < 3000; i++) {
    let text = hostileString(random, 16);
    // Astral characters and every character class, one code point at a time.
    if (random() < 0.3) text += String.fromCodePoint(Math.floor(random() * 0x110000));
    if (isXmlCompatible(text)) {
      assert.equal(decodeMarshalString(encodeMarshal(text), 'x'), text);
      assert.equal(decodeMarshalDict(encodeMarshal({ [text]: text }), 'x')[text], text);
    } else {
      const refusal = throwsSlapError(
        () => encodeMarshal(text),
        'SLAP_ERR_INVALID_INPUT',
        /XML cannot carry/,
      );
      assert.ok(!refusal.message.includes(text), 'the text itself is not in the message');
      throwsSlapError(() => encodeMarshal({ [text]: 1 }), 'SLAP_ERR_INVALID_INPUT', /XML cannot carry/);
    }
  }
});

test('encoding refuses what XML cannot carry and what Python has no form for', () => {
  for (const text of ['\u0000', 'a\u0001b', '\uFFFE', '\uFFFF', '\ud800', 'x\udc00', '\x1b[0m']) {
    throwsSlapError(
      () => encodeMarshal(text),
      'SLAP_ERR_INVALID_INPUT',
      /^cannot marshal a string: it holds a character XML cannot carry \(U\+[0-9A-F]{4} at index \d\)$/,
    );
    throwsSlapError(() => encodeMarshal([{ k: [text] }]), 'SLAP_ERR_INVALID_INPUT', /XML cannot carry/);
  }
  throwsSlapError(
    () => encodeMarshal(new PyObject('m\u0000', 'C', [], {})),
    'SLAP_ERR_INVALID_INPUT',
    /module name/,
  );
  // Nesting deeper than the decoder accepts, and cycles, are refused instead of overflowing the stack.
  let deep: MarshalValue = 'leaf';
  for (let i = 0; i < MAX_MARSHAL_DEPTH; i++) deep = [deep];
  throwsSlapError(() => encodeMarshal(deep), 'SLAP_ERR_INVALID_INPUT', /deeper than 100/);
  const deepest = (deep as MarshalValue[])[0] as MarshalValue;
  assert.equal(encodeMarshal(decodeMarshal(encodeMarshal(deepest))), encodeMarshal(deepest));
  throwsSlapError(() => encodeMarshal('\u0000'), 'SLAP_ERR_INVALID_INPUT', /U\+0000 at index 0/);
  throwsSlapError(() => encodeMarshal('ab\ud83d'), 'SLAP_ERR_INVALID_INPUT', /U\+D83D at index 2/);
  const cycle: MarshalValue[] = [];
  cycle.push(cycle);
  throwsSlapError(() => encodeMarshal(cycle), 'SLAP_ERR_INVALID_INPUT', /deeper than 100/);
  throwsSlapError(() => encodeMarshal(new Map() as unknown as MarshalValue), 'SLAP_ERR_INTERNAL', /Map/);
  throwsSlapError(
    () => encodeMarshal(undefined as unknown as MarshalValue),
    'SLAP_ERR_INTERNAL',
    /undefined/,
  );
});

test('depth: 100 nested values decode, 101 are refused', () => {
  const nested = (depth: number): string =>
    `<marshal>${Array.from({ length: depth - 1 }, (_, i) => `<list id="i${i}">`).join('')}<none/>${'</list>'.repeat(depth - 1)}</marshal>`;
  assert.ok(Array.isArray(decodeMarshal(nested(MAX_MARSHAL_DEPTH))));
  throwsSlapError(
    () => decodeMarshal(nested(MAX_MARSHAL_DEPTH + 1)),
    'SLAP_ERR_INVALID_INPUT',
    /deeper than 100/,
  );
});

const LAUGHS =
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
  Array.from(
    { length: 9 },
    (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
  ).join('') +
  ']><marshal><string>&lol9;</string></marshal>';

function fanOutBomb(levels: number, width: number): string {
  let xml = '<marshal><list id="i0">';
  xml += '<list id="i1">' + '<none/>'.repeat(width) + '</list>';
  for (let level = 2; level <= levels; level++) {
    xml += `<list id="i${level}">` + `<reference id="i${level - 1}"/>`.repeat(width) + '</list>';
  }
  return `${xml}</list></marshal>`;
}

const HOSTILE: [string, string, RegExp][] = [
  ['billion laughs', LAUGHS, /DOCTYPE is not allowed/],
  [
    'external entity file',
    '<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><marshal><string>&x;</string></marshal>',
    /DOCTYPE/,
  ],
  [
    'external entity http',
    '<!DOCTYPE m [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]><marshal><string>&x;</string></marshal>',
    /DOCTYPE/,
  ],
  [
    'external DTD',
    '<!DOCTYPE marshal SYSTEM "http://127.0.0.1:1/m.dtd"><marshal><none/></marshal>',
    /DOCTYPE/,
  ],
  ['undeclared entity', '<marshal><string>&lol;</string></marshal>', /entity "&lol;" is not allowed/],
  ['parameter entity', '<marshal><string>%x;&x</string></marshal>', /'&' that starts no entity/],
  ['bare ampersand', '<marshal><string>a & b</string></marshal>', /'&' that starts no entity/],
  [
    '10,000-deep nesting',
    `<marshal>${Array.from({ length: 10000 }, (_, i) => `<list id="i${i}">`).join('')}${'</list>'.repeat(10000)}</marshal>`,
    /deeper than 100 levels/,
  ],
  [
    '10,000-deep tuples',
    `<marshal>${'<tuple>'.repeat(10000)}${'</tuple>'.repeat(10000)}</marshal>`,
    /deeper than 100 levels/,
  ],
  ['unknown element', '<marshal><complex>1j</complex></marshal>', /unknown element "complex"/],
  ['code element', '<marshal><code>x</code></marshal>', /unknown element/],
  ['nested marshal', '<marshal><marshal><none/></marshal></marshal>', /unknown element "marshal"/],
  ['wrong root', '<dictionary id="i2"/>', /root element must be <marshal>/],
  [
    'unknown module',
    '<marshal><object id="i2" module="os" class="system"><tuple><string>id</string></tuple><dictionary id="i3"/></object></marshal>',
    /class "os.system" are not allowed/,
  ],
  [
    'unknown class',
    '<marshal><object id="i2" module="slapos.slap.slap" class="Supply"><tuple/><dictionary id="i3"/></object></marshal>',
    /not allowed/,
  ],
  [
    'object without class',
    '<marshal><object id="i2"><tuple/><dictionary id="i3"/></object></marshal>',
    /not allowed/,
  ],
  [
    'object without attributes',
    '<marshal><object id="i2" module="slapos.slap.slap" class="Computer"><tuple/></object></marshal>',
    /<tuple> of arguments then a <dictionary>/,
  ],
  [
    'object with a list for attributes',
    '<marshal><object id="i2" module="slapos.slap.slap" class="Computer"><tuple/><list id="i3"/></object></marshal>',
    /<tuple> of arguments then/,
  ],
  ['unterminated root', '<marshal><list id="i2"><none/>', /unterminated document \(<list> is not closed\)/],
  ['unterminated string', '<marshal><string>abc', /unterminated document/],
  ['unterminated tag', '<marshal><string', /unterminated tag/],
  ['unterminated closing tag', '<marshal><none/></marshal', /bad closing tag/],
  [
    'unterminated attribute',
    '<marshal><list id="i2></list></marshal>',
    /unterminated attribute|'<' in an attribute/,
  ],
  ['unterminated comment', '<marshal><!-- x </marshal>', /unterminated comment/],
  ['unterminated CDATA', '<marshal><string><![CDATA[x</string></marshal>', /unterminated CDATA/],
  ['empty document', '', /no <marshal> root element/],
  ['only whitespace', ' \n', /no <marshal> root element/],
  ['empty marshal', '<marshal/>', /holds no value/],
  ['two values', '<marshal><none/><none/></marshal>', /more than one value/],
  ['two roots', '<marshal><none/></marshal><marshal><none/></marshal>', /two root elements/],
  ['text outside root', '<marshal><none/></marshal>junk', /text outside the root element/],
  ['text before root', 'junk<marshal><none/></marshal>', /text outside the root element/],
  ['text in a container', '<marshal><list id="i2">x<none/></list></marshal>', /text inside <list>/],
  ['text in none', '<marshal><none>x</none></marshal>', /<none> holds text/],
  ['element in a string', '<marshal><string>a<none/></string></marshal>', /element "none" inside <string>/],
  [
    'mismatched tags',
    '<marshal><list id="i2"></dictionary></marshal>',
    /closing tag "dictionary" does not match <list>/,
  ],
  ['stray closing tag', '<marshal><none/></marshal></list>', /without an opening tag/],
  [
    'bad char ref 0',
    '<marshal><string>&#0;</string></marshal>',
    /character reference "&#0;" names a character XML cannot carry/,
  ],
  [
    'bad char ref surrogate',
    '<marshal><string>&#xD800;</string></marshal>',
    /"&#xD800;" names a character XML cannot carry/,
  ],
  ['bad char ref FFFE', '<marshal><string>&#xFFFE;</string></marshal>', /cannot carry/],
  ['bad char ref 1', '<marshal><string>&#1;</string></marshal>', /cannot carry/],
  ['char ref beyond Unicode', '<marshal><string>&#x110000;</string></marshal>', /cannot carry/],
  ['char ref too long', '<marshal><string>&#99999999999999999999;</string></marshal>', /starts no entity/],
  ['empty char ref', '<marshal><string>&#;</string></marshal>', /bad character reference/],
  ['uppercase hex marker', '<marshal><string>&#X41;</string></marshal>', /bad character reference/],
  ['raw NUL', '<marshal><string>\u0000</string></marshal>', /characters XML cannot carry/],
  ['raw control char', '<marshal><string>\u0001</string></marshal>', /characters XML cannot carry/],
  ['raw lone surrogate', '<marshal><string>\ud800</string></marshal>', /characters XML cannot carry/],
  ['raw U+FFFF in a comment', '<marshal><!--\uffff--><none/></marshal>', /characters XML cannot carry/],
  [']]> in text', '<marshal><string>a]]>b</string></marshal>', /']]>' in character data/],
  ['-- in comment', '<marshal><!-- a -- b --><none/></marshal>', /'--' inside a comment/],
  [
    'reference cycle',
    '<marshal><list id="i2"><reference id="i2"/></list></marshal>',
    /a container still open \(a cycle\)/,
  ],
  [
    'indirect cycle',
    '<marshal><dictionary id="i2"><string>a</string><list id="i3"><reference id="i2"/></list></dictionary></marshal>',
    /still open/,
  ],
  ['reference to unknown id', '<marshal><reference id="i9"/></marshal>', /reference to unknown id "i9"/],
  ['reference without id', '<marshal><reference/></marshal>', /<reference> without an id/],
  [
    'reference with content',
    '<marshal><list id="i9"><list id="i2"/><reference id="i2">x</reference></list></marshal>',
    /<reference> holds text/,
  ],
  ['reference fan-out bomb', fanOutBomb(8, 10), /more than 1000000 values \(references counted in full\)/],
  [
    'same id twice',
    '<marshal><list id="i2"><list id="i3"/><list id="i3"/></list></marshal>',
    /id "i3" given to two containers/,
  ],
  [
    'list as a key',
    '<marshal><dictionary id="i2"><list id="i3"/><none/></dictionary></marshal>',
    /dictionary key must be/,
  ],
  [
    'tuple as a key',
    '<marshal><dictionary id="i2"><tuple/><none/></dictionary></marshal>',
    /dictionary key must be/,
  ],
  [
    'key without value',
    '<marshal><dictionary id="i2"><string>a</string></dictionary></marshal>',
    /key "a" without a value/,
  ],
  [
    'processing instruction',
    '<marshal><?php system("id") ?><none/></marshal>',
    /processing instructions are not allowed/,
  ],
  [
    'late declaration',
    ' <?xml version="1.0"?><marshal><none/></marshal>',
    /declaration must start the document/,
  ],
  [
    'stylesheet PI',
    '<?xml-stylesheet href="http://127.0.0.1:1/x"?><marshal><none/></marshal>',
    /processing instructions/,
  ],
  [
    'ELEMENT declaration',
    '<!ELEMENT marshal ANY><marshal><none/></marshal>',
    /markup declaration "<!ELEMENT ma" is not allowed/,
  ],
  ['duplicate attribute', '<marshal><list id="i2" id="i3"/></marshal>', /attribute "id" given twice/],
  ['unquoted attribute', '<marshal><list id=i2/></marshal>', /attribute "id" is not quoted/],
  ['attribute without value', '<marshal><list id/></marshal>', /attribute "id" without a value/],
  ['attributes not separated', '<marshal><list id="i2"x="1"/></marshal>', /bad tag "list"/],
  ['< in attribute', '<marshal><list id="<"/></marshal>', /'<' in an attribute value/],
  ['bad tag name', '<marshal>< none/></marshal>', /bad tag at offset 10/],
  ['not an integer', '<marshal><int>1.5</int></marshal>', /<int> holds "1.5", not an integer/],
  ['empty integer', '<marshal><int/></marshal>', /not an integer/],
  ['empty bool', '<marshal><bool/></marshal>', /<bool> holds "", not an integer/],
  ['integer of 5000 digits', `<marshal><int>${'9'.repeat(5000)}</int></marshal>`, /more than 4300 digits/],
  ['huge integer text', `<marshal><int>${'9'.repeat(1_000_000)}</int></marshal>`, /more than 4300 digits/],
  ['not a float', '<marshal><float>1,5</float></marshal>', /<float> holds "1,5", not a float/],
  ['hex float', '<marshal><float>0x1p3</float></marshal>', /not a float/],
  ['CDATA outside root', '<![CDATA[ ]]><marshal><none/></marshal>', /CDATA section outside the root/],
  [
    'CDATA text in a container',
    '<marshal><list id="i2"><![CDATA[x]]></list></marshal>',
    /text inside <list>/,
  ],
];

test('hostile documents are refused with SLAP_ERR_INVALID_INPUT and a clear, bounded message', () => {
  for (const [name, xml, message] of HOSTILE) {
    const error = throwsSlapError(() => decodeMarshal(xml), 'SLAP_ERR_INVALID_INPUT', message);
    assert.match(error.message, /^malformed marshalled XML: /, name);
    assert.ok(error.message.length < 200, `${name}: ${error.message.length} characters`);
    assert.equal(error.status, 400, name);
  }
});

test('references: the budget counts a referenced container in full each time', () => {
  // 10 × 10 × 10 × 10 references to a list of 10 values: about 110,000 values, accepted.
  const accepted = decodeMarshal(fanOutBomb(5, 10)) as MarshalValue[][];
  assert.equal(accepted[0]?.length, 10);
  const [, level2, level3] = accepted;
  assert.equal(level3?.[0], level2, 'a reference is the very container');
  // One more level would pass a million values.
  throwsSlapError(
    () => decodeMarshal(fanOutBomb(7, 10)),
    'SLAP_ERR_INVALID_INPUT',
    /more than 1000000 values/,
  );
  // Exactly at the budget: a list of MAX - 1 values and the list itself.
  const atBudget = `<marshal><list id="i2">${'<none/>'.repeat(MAX_MARSHAL_VALUES - 1)}</list></marshal>`;
  assert.equal((decodeMarshal(atBudget) as MarshalValue[]).length, MAX_MARSHAL_VALUES - 1);
  throwsSlapError(
    () => decodeMarshal(atBudget.replace('<none/>', '<none/><none/>')),
    'SLAP_ERR_INVALID_INPUT',
    /more than 1000000 values/,
  );
});

test('50 MB documents are decoded or refused, not hung', () => {
  const count = Math.ceil((50 * 1024 * 1024) / 'x&amp;amp;y\u00e9 '.length);
  const big = 'x&amp;amp;y\u00e9 '.repeat(count);
  assert.equal(decodeMarshal(`<marshal><string>${big}</string></marshal>`), 'x&yé '.repeat(count));
  const raw = 'y'.repeat(50 * 1024 * 1024);
  assert.equal(decodeMarshal(`<marshal><string>${raw}</string></marshal>`), raw);
  // A million small elements and more: refused by the value budget.
  const many = `<marshal><list id="i2">${'<int>1</int>'.repeat(4_400_000)}</list></marshal>`;
  assert.ok(many.length > 50 * 1024 * 1024);
  throwsSlapError(() => decodeMarshal(many), 'SLAP_ERR_INVALID_INPUT', /more than 1000000 values/);
  // 50 MB of whitespace between children, and one huge unterminated attribute.
  const spaces = `<marshal><list id="i2">${' '.repeat(50 * 1024 * 1024)}<none/></list></marshal>`;
  assert.deepEqual(decodeMarshal(spaces), [null]);
  throwsSlapError(
    () => decodeMarshal(`<marshal><list id="${'a'.repeat(50 * 1024 * 1024)}`),
    'SLAP_ERR_INVALID_INPUT',
    /unterminated attribute/,
  );
  // Many ampersands that each start an entity far from its semicolon.
  throwsSlapError(
    () => decodeMarshal(`<marshal><string>${'&'.repeat(1_000_000)};</string></marshal>`),
    'SLAP_ERR_INVALID_INPUT',
    /starts no entity/,
  );
});

test('property: mutated documents decode or are refused with SLAP_ERR_INVALID_INPUT, nothing else', () => {
  const random = seededRandom(11);
  const seeds = [FULL_COMPUTER_XML, encodeMarshal({ a: [new PyTuple([1, 'x&y']), null, 1.5], é: {} })];
  const inserts = [
    '<',
    '>',
    '&',
    '&#0;',
    '</list>',
    '<reference id="i3"/>',
    '<list id="i2">',
    '"',
    "'",
    ']]>',
    '<!--',
    '\u0000',
    '<?x?>',
  ];
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    let xml = seeds[i % seeds.length] as string;
    const edits = 1 + Math.floor(random() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(random() * xml.length);
      const choice = random();
      if (choice < 0.3) xml = xml.slice(0, at);
      else if (choice < 0.6) xml = xml.slice(0, at) + xml.slice(at + 1 + Math.floor(random() * 20));
      else
        xml = xml.slice(0, at) + (inserts[Math.floor(random() * inserts.length)] as string) + xml.slice(at);
    }
    try {
      const value = decodeMarshal(xml);
      assert.equal(typeof encodeMarshal(value), 'string');
    } catch (error) {
      assert.ok(error instanceof SlapError, String(error));
      assert.equal(error.code, 'SLAP_ERR_INVALID_INPUT');
      assert.match(error.message, /^malformed marshalled XML: /);
      refused++;
    }
  }
  assert.ok(refused > 1000, `${refused} refused`);
});

test('decodeMarshalDict and decodeMarshalString check the top value and name the field', () => {
  assert.deepEqual(plain(decodeMarshalDict('<marshal><dictionary id="i2"/></marshal>', 'filter_xml')), {});
  throwsSlapError(
    () => decodeMarshalDict('<marshal><list id="i2"/></marshal>', 'filter_xml'),
    'SLAP_ERR_INVALID_INPUT',
    /^malformed marshalled XML: filter_xml: expected a dictionary, got a list$/,
  );
  throwsSlapError(
    () => decodeMarshalDict(encodeMarshal(slap('Computer', [], {})), 'xml'),
    'SLAP_ERR_INVALID_INPUT',
    /expected a dictionary, got an object Computer/,
  );
  throwsSlapError(
    () => decodeMarshalDict('<marshal><dictionary id="i2">', 'connection_xml'),
    'SLAP_ERR_INVALID_INPUT',
    /^malformed marshalled XML: connection_xml: unterminated document/,
  );
  throwsSlapError(
    () => decodeMarshalDict('<marshal>', "$& $' field"),
    'SLAP_ERR_INVALID_INPUT',
    /^malformed marshalled XML: \$& \$' field: unterminated document/,
  );
  assert.equal(decodeMarshalString('<marshal><string>started</string></marshal>', 'state'), 'started');
  assert.equal(decodeMarshalString('<marshal><unicode>started</unicode></marshal>', 'state'), 'started');
  assert.equal(decodeMarshalString('<marshal><none/></marshal>', 'state'), null);
  throwsSlapError(
    () => decodeMarshalString('<marshal><bool>0</bool></marshal>', 'state'),
    'SLAP_ERR_INVALID_INPUT',
    /^malformed marshalled XML: state: expected a string or None, got a boolean$/,
  );
  throwsSlapError(
    () => decodeMarshalString('started', 'state'),
    'SLAP_ERR_INVALID_INPUT',
    /^malformed marshalled XML: state: text outside the root element$/,
  );
  throwsSlapError(
    () => decodeMarshal(undefined as unknown as string),
    'SLAP_ERR_INVALID_INPUT',
    /not a text/,
  );
});
