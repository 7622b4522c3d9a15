/**
 * The xml_marshaller codec (src/core/xml-marshaller.ts): `npm run bench -- xml-marshaller [--runs 5]`.
 *
 * Encodes and decodes a getFullComputerInformation answer of a computer with many busy partitions
 * (each with slave instances), then decodes hostile documents of about 50 MB: one huge string of
 * dense escapes, one huge plain string, a million small elements (refused by the value budget) and
 * a reference fan-out bomb. Prints the median and worst time of the runs; documents are built before
 * timing.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SlapError } from '../src/core/errors.ts';
import {
  PyObject,
  PyTuple,
  SLAP_MODULE,
  decodeMarshal,
  encodeMarshal,
  type MarshalDict,
  type MarshalValue,
} from '../src/core/xml-marshaller.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Math.max(1, Number(values.runs));
const SR = 'https://example.com/sr/software.cfg';
const MB = 1024 * 1024;

function slap(className: string, args: MarshalValue[], attributes: MarshalDict): PyObject {
  return new PyObject(SLAP_MODULE, className, args, attributes);
}

function computer(partitions: number, slaves: number): PyObject {
  const partitionList = Array.from({ length: partitions }, (_, p) => {
    const id = `slappart${p}`;
    return slap('ComputerPartition', ['COMP-0', id, null], {
      _computer_id: 'COMP-0',
      _connection_dict: { url: `https://[fd00::${p}]:8443/?a=1&b=<2>` },
      _instance_guid: `COMP-0-${id}`,
      _need_modification: 1,
      _parameter_dict: {
        _: JSON.stringify({ name: `Instance ${p}`, 'é😀': [1, 2.5, null] }),
        full_address_list: [],
        instance_title: `Instance ${p}`,
        ip_list: [
          new PyTuple([`slaptap${p}`, `10.0.${p >> 8}.${p & 255}`]),
          new PyTuple([`slaptap${p}`, `fd00::${p}`]),
        ],
        slave_instance_list: Array.from({ length: slaves }, (_, s) => ({
          slave_reference: `_shared${s}`,
          slave_title: `_shared${s}`,
          url: `https://backend-${s}.example.com/path?x=${s}&y=<z>`,
        })),
        timestamp: '1700000100.5',
      },
      _partition_id: id,
      _request_dict: null,
      _requested_state: 'started',
      _software_release_document: slap('SoftwareRelease', [SR, 'COMP-0'], {
        _computer_guid: 'COMP-0',
        _software_instance_list: [],
        _software_release: SR,
      }),
    });
  });
  return slap('Computer', ['COMP-0'], {
    _computer_id: 'COMP-0',
    _computer_partition_list: partitionList,
    _software_release_list: [],
  });
}

function fanOutBomb(levels: number, width: number): string {
  let xml = '<marshal><list id="i0"><list id="i1">' + '<none/>'.repeat(width) + '</list>';
  for (let level = 2; level <= levels; level++) {
    xml += `<list id="i${level}">` + `<reference id="i${level - 1}"/>`.repeat(width) + '</list>';
  }
  return `${xml}</list></marshal>`;
}

function measure(name: string, size: number, run: () => unknown): void {
  const times: number[] = [];
  let outcome = '';
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    try {
      run();
      outcome = 'ok';
    } catch (error) {
      outcome = error instanceof SlapError ? `refused (${error.code})` : `FAILED: ${String(error)}`;
    }
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  const worst = times[times.length - 1] ?? 0;
  console.log(
    `${name.padEnd(44)} ${(size / MB).toFixed(1).padStart(6)} MB  median ${median.toFixed(0).padStart(5)} ms` +
      `  worst ${worst.toFixed(0).padStart(5)} ms  ${outcome}`,
  );
}

const big = computer(200, 20);
const bigXml = encodeMarshal(big);
const escapedCount = Math.ceil((50 * MB) / 'x&amp;amp;y&#233; '.length);
const documents: [string, string][] = [
  [
    'decode: 50 MB string of dense escapes',
    `<marshal><string>${'x&amp;amp;y&#233; '.repeat(escapedCount)}</string></marshal>`,
  ],
  ['decode: 50 MB plain string', `<marshal><string>${'y'.repeat(50 * MB)}</string></marshal>`],
  [
    'decode: 4.4 million <int> (over the budget)',
    `<marshal><list id="i2">${'<int>1</int>'.repeat(4_400_000)}</list></marshal>`,
  ],
  [
    'decode: 999,999 <string> (at the budget)',
    `<marshal><list id="i2">${'<string>ab</string>'.repeat(999_999)}</list></marshal>`,
  ],
  ['decode: reference fan-out bomb (10^8 values)', fanOutBomb(8, 10)],
];

console.log(`xml-marshaller, ${runs} runs each`);
measure('encode: computer, 200 partitions × 20 slaves', bigXml.length, () => encodeMarshal(big));
measure('decode: computer, 200 partitions × 20 slaves', bigXml.length, () => decodeMarshal(bigXml));
for (const [name, xml] of documents) measure(name, xml.length, () => decodeMarshal(xml));
