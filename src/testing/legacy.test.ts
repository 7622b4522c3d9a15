/**
 * The Python-client imitation the upstream replay relies on: forms encoded byte for byte as
 * `urllib.parse.urlencode` (what `requests` sends), and the request form as slap.py builds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMarshal } from '../core/xml-marshaller.ts';
import { hostileString, seededRandom } from './hostile-strings.ts';
import { encodeLegacyFields, pythonTruth, requestComputerPartitionForm } from './legacy.ts';

test('fields are encoded as Python urlencode encodes them (captured from Python 3), None as "None"', () => {
  assert.equal(
    encodeLegacyFields({ a: "x y*~!'()+&=/Привет\u2028\u0000😀", b: null }),
    'a=x+y%2A~%21%27%28%29%2B%26%3D%2F%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82%E2%80%A8%00%F0%9F%98%80&b=None',
  );
});

test('any field value comes back intact through a form parser', () => {
  const random = seededRandom(9);
  for (let round = 0; round < 500; round++) {
    const key = hostileString(random, 4).replace(/[\uD800-\uDFFF]/g, '');
    const value = hostileString(random).replace(/[\uD800-\uDFFF]/g, '');
    const parsed = new URLSearchParams(encodeLegacyFields({ [key]: value, other: 'x' }));
    assert.deepEqual(
      [...parsed],
      [
        [key, value],
        ['other', 'x'],
      ],
    );
  }
});

test('the request form is the one slap.py builds (captured marshalled fields)', () => {
  const form = requestComputerPartitionForm({
    softwareRelease: 'http://sr//',
    softwareType: null,
    partitionReference: 'MyInstance',
    parameters: { p1: 'v1', num: 3 },
    requester: { computerId: 'computer', partitionId: 'slappart0' },
  });
  assert.deepEqual(form, {
    computer_id: 'computer',
    computer_partition_id: 'slappart0',
    software_release: 'http://sr//',
    software_type: 'default',
    partition_reference: 'MyInstance',
    shared_xml: '<marshal><bool>0</bool></marshal>',
    partition_parameter_xml:
      '<marshal><dictionary id="i2"><string>num</string><int>3</int><string>p1</string><string>v1</string></dictionary></marshal>',
    filter_xml: '<marshal><dictionary id="i2"/></marshal>',
    state: '<marshal><none/></marshal>',
  });
});

test("Python's truth of unmarshalled values", () => {
  const cases: [string, boolean][] = [
    ['<marshal><dictionary id="i2"/></marshal>', false],
    ['<marshal><list id="i2"/></marshal>', false],
    ['<marshal><string></string></marshal>', false],
    ['<marshal><int>0</int></marshal>', false],
    ['<marshal><none/></marshal>', false],
    ['<marshal><bool>1</bool></marshal>', true],
    ['<marshal><string>0</string></marshal>', true],
    ['<marshal><tuple><none/></tuple></marshal>', true],
  ];
  for (const [xml, truth] of cases) assert.equal(pythonTruth(decodeMarshal(xml)), truth, xml);
});
