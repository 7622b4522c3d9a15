/**
 * The legacy SLAP API over real HTTP, the calls of nodes (docs/protocol.md §3.5, §3.6): the
 * captured full example byte for byte, registerComputerPartition, format, reports, and status codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixedClock } from '../core/clock.ts';
import { decodeMarshal, encodeMarshal, PyObject, type MarshalDict } from '../core/xml-marshaller.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'undici';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../lib/logger.ts';
import { callApi, formatTestNode, withTestMaster, type ApiHarness } from '../testing/master.ts';
import {
  CAPTURED_COMPUTER,
  CAPTURED_REQUEST_ANSWER,
  CAPTURED_SHARED_ANSWER,
} from '../testing/captured-slapproxy.ts';
import {
  legacyGet,
  legacyPost,
  legacyRaw,
  requestComputerPartitionForm,
  type LegacyFields,
} from '../testing/legacy.ts';

const SR = 'https://example.com/sr/software.cfg';

/** The format `slapos node format` sends for the captured example (§3.6). */
function exampleFormat(): string {
  return encodeMarshal({
    reference: 'COMP-0',
    address: '10.0.0.1',
    netmask: '255.255.255.0',
    partition_list: [
      {
        reference: 'slappart0',
        tap: { name: 'slaptap0' },
        address_list: [
          { addr: '10.0.0.10', netmask: '255.255.255.0' },
          { addr: 'fd00::10', netmask: 'ffff:ffff:ffff:ffff::' },
        ],
      },
      {
        reference: 'slappart1',
        tap: { name: 'slaptap1' },
        address_list: [{ addr: '10.0.0.11', netmask: '255.255.255.0' }],
      },
    ],
  });
}

function requestFields(
  title: string,
  parameters: MarshalDict,
  options: { shared?: boolean; state?: string | null; filter?: MarshalDict } = {},
): LegacyFields {
  return requestComputerPartitionForm({
    softwareRelease: SR,
    partitionReference: title,
    parameters,
    shared: options.shared ?? false,
    state: options.state === undefined ? 'started' : options.state,
    filter: options.filter ?? {},
  });
}

async function ok(response: Promise<{ status: number; text: string }>, text?: string): Promise<string> {
  const answer = await response;
  assert.equal(answer.status, 200, answer.text);
  if (text !== undefined) assert.equal(answer.text, text);
  return answer.text;
}

/** Steps 1–5 of §3.6 over the legacy API; returns the answers of steps 3 and 4. */
async function captureExample(
  master: ApiHarness,
  clock: ReturnType<typeof fixedClock>,
): Promise<{ request: string; shared: string }> {
  const { url } = master;
  await ok(legacyPost(url, '/loadComputerConfigurationFromXML', { xml: exampleFormat() }), 'done');
  await ok(
    legacyPost(url, '/supplySupply', { url: SR, computer_id: 'COMP-0', state: 'available' }),
    `Supplied '${SR}' to be available`,
  );
  clock.set(1700000000.25);
  const request = await ok(
    legacyPost(url, '/requestComputerPartition', requestFields('MyInstance', { foo: 'bar' })),
  );
  clock.set(1700000100.5);
  const shared = await ok(
    legacyPost(
      url,
      '/requestComputerPartition',
      requestFields('MyShared', { url: 'https://backend' }, { shared: true }),
    ),
  );
  await ok(
    legacyPost(url, '/setComputerPartitionConnectionXml', {
      computer_id: 'COMP-0',
      computer_partition_id: 'slappart0',
      connection_xml: encodeMarshal({ url: 'https://a?x=1&y=2' }),
    }),
    'done',
  );
  return { request, shared };
}

describe('legacy API: the captured example (protocol.md §3.6)', () => {
  it('answers byte for byte what slapproxy answered', async () => {
    const clock = fixedClock(1699999999);
    await withTestMaster(
      async (master) => {
        const answers = await captureExample(master, clock);
        assert.equal(answers.request, CAPTURED_REQUEST_ANSWER);
        assert.equal(answers.shared, CAPTURED_SHARED_ANSWER);
        const full = await legacyGet(master.url, '/getFullComputerInformation', { computer_id: 'COMP-0' });
        assert.equal(full.status, 200);
        assert.equal(full.headers['content-type'], 'text/html; charset=utf-8');
        assert.equal(full.text, CAPTURED_COMPUTER);
        // gzip'd (once) for a client that accepts it, as Python's requests does; plain otherwise.
        assert.equal(full.headers['content-encoding'], 'gzip');
        const plain = await request(`${master.url}/getFullComputerInformation?computer_id=COMP-0`);
        assert.equal(plain.headers['content-encoding'], undefined);
        assert.equal(await plain.body.text(), CAPTURED_COMPUTER);
        // The alias answers the same.
        const alias = await legacyGet(master.url, '/getComputerInformation', { computer_id: 'COMP-0' });
        assert.equal(alias.text, CAPTURED_COMPUTER);
        // registerComputerPartition: the partition alone, ids from i2 again.
        const free = await legacyGet(master.url, '/registerComputerPartition', {
          computer_reference: 'COMP-0',
          computer_partition_reference: 'slappart1',
        });
        assert.equal(free.status, 200);
        const freeObject = CAPTURED_COMPUTER.slice(
          CAPTURED_COMPUTER.indexOf('<object id="i16"'),
          CAPTURED_COMPUTER.indexOf('</list><string>_software_release_list'),
        )
          .replace('id="i16"', 'id="i2"')
          .replace('id="i17"', 'id="i3"');
        assert.equal(free.text, `<marshal>${freeObject}</marshal>`);
        const busy = await legacyGet(master.url, '/registerComputerPartition', {
          computer_reference: 'COMP-0',
          computer_partition_reference: 'slappart0',
        });
        const partition = decodeMarshal(busy.text);
        assert.ok(partition instanceof PyObject);
        assert.deepEqual(partition.args, ['COMP-0', 'slappart0', null]);
        const parameters = partition.attributes._parameter_dict as MarshalDict;
        assert.equal(parameters.timestamp, '1700000100.5');
        assert.equal(parameters.instance_title, 'MyInstance');
      },
      { computerId: 'COMP-0', clock },
    );
  });

  it('reads back identically through the JSON API', async () => {
    const clock = fixedClock(1699999999);
    await withTestMaster(
      async (master) => {
        await captureExample(master, clock);
        const instance = await callApi(master.url, '/slapos.get.v0.software_instance', {
          instance_guid: 'MyInstance______0',
        });
        assert.equal(instance.status, 200);
        const body = instance.body as Record<string, unknown>;
        assert.deepEqual(body.parameters, { foo: 'bar' });
        assert.deepEqual(body.connection_parameters, { url: 'https://a?x=1&y=2' });
        assert.equal(body.compute_partition_id, 'slappart0');
        assert.equal(body.processing_timestamp, 1700000100);
        const shared = await callApi(master.url, '/slapos.get.v0.software_instance', {
          instance_guid: 'MyShared______1',
        });
        assert.deepEqual((shared.body as Record<string, unknown>).parameters, { url: 'https://backend' });
      },
      { computerId: 'COMP-0', clock },
    );
  });
});

describe('legacy API: lookups that miss', () => {
  it('answers an unformatted default compute node with what it was supplied, another unknown one 404 (not 500)', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'slapos-legacy-log-'));
    const logFile = join(directory, 'master.log');
    try {
      await withTestMaster(
        async ({ url }) => {
          const empty = await legacyGet(url, '/getFullComputerInformation', { computer_id: 'computer' });
          assert.equal(empty.status, 200);
          assert.equal(
            empty.text,
            '<marshal><object id="i2" module="slapos.slap.slap" class="Computer"><tuple><string>computer</string></tuple><dictionary id="i3"><string>_computer_id</string><string>computer</string><string>_computer_partition_list</string><list id="i4"/><string>_software_release_list</string><list id="i5"/></dictionary></object></marshal>',
          );
          // Software supplied to it before its format is listed, as slapproxy lists it.
          const supplied = await legacyPost(url, '/supplySupply', {
            url: SR,
            computer_id: 'computer',
            state: 'available',
          });
          assert.equal(supplied.status, 200);
          const withSoftware = decodeMarshal(
            (await legacyGet(url, '/getFullComputerInformation', { computer_id: 'computer' })).text,
          ) as PyObject;
          const software = withSoftware.attributes._software_release_list as PyObject[];
          assert.deepEqual(software[0]?.args, [SR, 'computer']);
          const unknown = await legacyGet(url, '/getFullComputerInformation', { computer_id: 'computer42' });
          assert.equal(unknown.status, 404);
          assert.match(unknown.text, /<p>computer42 is not registered.<\/p>/);
          const partition = await legacyGet(url, '/registerComputerPartition', {
            computer_reference: 'computer',
            computer_partition_reference: 'slappart9',
          });
          assert.equal(partition.status, 500);
        },
        { logger: createLogger({ level: 'debug', destination: logFile }) },
      );
      // Lookups that miss are refusals, not failures of ours: nothing logged at error level.
      const lines = (await readFile(logFile, 'utf8')).split('\n').filter((line) => line !== '');
      assert.ok(lines.some((line) => line.includes('legacy request refused')));
      assert.deepEqual(
        lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50),
        [],
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('bad bodies and documents are 4xx, never a 500', async () => {
    await withTestMaster(async ({ url }) => {
      await formatTestNode(url, { partitions: 1 });
      const request = (overrides: Record<string, string>): Promise<{ status: number; text: string }> =>
        legacyPost(url, '/requestComputerPartition', { ...requestFields('X', {}), ...overrides });
      const laughs =
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' +
        '<marshal><dictionary id="i2"><string>a</string><string>&lol2;</string></dictionary></marshal>';
      const external =
        '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><marshal><string>&x;</string></marshal>';
      const deep = `<marshal>${'<list id="i2">'.repeat(10_000)}${'</list>'.repeat(10_000)}</marshal>`;
      const cases: [string, Record<string, string>][] = [
        ['billion laughs', { partition_parameter_xml: laughs }],
        ['external entity', { state: external }],
        ['10,000-deep nesting', { partition_parameter_xml: deep }],
        ['not XML', { filter_xml: 'not xml' }],
        [
          'unknown class',
          {
            partition_parameter_xml:
              '<marshal><object id="i2" module="os" class="system"><tuple/><dictionary id="i3"/></object></marshal>',
          },
        ],
        ['wrong type', { partition_parameter_xml: encodeMarshal(['a']) }],
        [
          'an object as a parameter',
          {
            partition_parameter_xml:
              '<marshal><dictionary id="i2"><string>a</string><object id="i3" module="slapos.slap.slap" class="Computer"><tuple/><dictionary id="i4"/></object></dictionary></marshal>',
          },
        ],
        ['unknown state', { state: encodeMarshal('running') }],
        ['a NUL in a title', { partition_reference: 'a\u0000b' }],
      ];
      for (const [what, overrides] of cases) {
        const answer = await request(overrides);
        assert.equal(answer.status, 400, `${what}: ${answer.text}`);
        assert.match(answer.text, /^<!doctype html>/, what);
      }
      const notUtf8 = await legacyRaw(url, 'POST', '/supplySupply', {
        body: Buffer.from([0x75, 0x72, 0x6c, 0x3d, 0xff]),
      });
      assert.equal(notUtf8.status, 400);
      const big = await legacyRaw(url, 'POST', '/loadComputerConfigurationFromXML', {
        body: `xml=${'a'.repeat(2 * 1024 * 1024)}`,
      });
      assert.equal(big.status, 413);
      // Nothing was written by the refused requests.
      const computer = decodeMarshal(
        (await legacyGet(url, '/getFullComputerInformation', { computer_id: 'computer' })).text,
      ) as PyObject;
      const partitions = computer.attributes._computer_partition_list as PyObject[];
      assert.equal(partitions[0]?.attributes._requested_state, 'destroyed');
    });
  });

  it('answers a missing field 400, a repeated one 400, bad encodings 400', async () => {
    await withTestMaster(async ({ url }) => {
      const missing = await legacyGet(url, '/getFullComputerInformation');
      assert.equal(missing.status, 400);
      assert.match(missing.text, /^<!doctype html>\n<html lang=en>\n<title>400 Bad Request<\/title>/);
      assert.equal(
        (await legacyRaw(url, 'GET', '/getFullComputerInformation', { query: 'computer_id=a&computer_id=b' }))
          .status,
        400,
      );
      assert.equal(
        (await legacyRaw(url, 'GET', '/getFullComputerInformation', { query: 'computer_id=%zz' })).status,
        400,
      );
      assert.equal(
        (await legacyRaw(url, 'GET', '/getFullComputerInformation', { query: 'computer_id=%C3' })).status,
        400,
      );
      assert.equal(
        (
          await legacyRaw(url, 'POST', '/supplySupply', {
            body: 'url=%ED%A0%80&computer_id=c&state=available',
          })
        ).status,
        400,
      );
      const json = await legacyRaw(url, 'POST', '/supplySupply', {
        body: '{}',
        headers: { 'Content-type': 'application/json' },
      });
      assert.equal(json.status, 400);
      const badState = await legacyPost(url, '/supplySupply', { url: SR, computer_id: 'c', state: 'broken' });
      assert.equal(badState.status, 400);
    });
  });

  it('answers the wrong method 405 and an allocation failure 404 with the message', async () => {
    await withTestMaster(async ({ url }) => {
      const wrong = await legacyGet(url, '/requestComputerPartition', { partition_reference: 'x' });
      assert.equal(wrong.status, 405);
      const failure = await legacyPost(url, '/requestComputerPartition', requestFields('Other', {}));
      assert.equal(failure.status, 404);
      assert.equal(
        failure.text,
        '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>No free computer partition found for: Other</p>\n',
      );
    });
  });
});
