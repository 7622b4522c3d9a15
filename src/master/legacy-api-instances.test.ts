/**
 * The legacy SLAP API over real HTTP in proxy mode, the calls of instances and users
 * (docs/protocol.md §3.5, §5): requests from a partition, rename, bang, connection parameters of
 * shared instances, the reports, the small lookups, which APIs are served, and what one API writes
 * read back identically through the other.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixedClock } from '../core/clock.ts';
import { decodeMarshal, encodeMarshal, PyObject, type MarshalDict } from '../core/xml-marshaller.ts';
import { formatTestNode, postJson, withTestMaster } from '../testing/master.ts';
import {
  legacyGet,
  legacyPost,
  requestComputerPartitionForm,
  type LegacyFields,
  type LegacyResponse,
} from '../testing/legacy.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';

const SR = 'https://example.com/sr/software.cfg';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function requestFields(
  title: string,
  parameters: MarshalDict = {},
  options: { shared?: boolean; requester?: string; state?: string | null } = {},
): LegacyFields {
  return requestComputerPartitionForm({
    softwareRelease: SR,
    partitionReference: title,
    parameters,
    shared: options.shared ?? false,
    state: options.state === undefined ? 'started' : options.state,
    ...(options.requester === undefined
      ? {}
      : { requester: { computerId: 'computer', partitionId: options.requester } }),
  });
}

function attributesOf(response: LegacyResponse): MarshalDict {
  assert.equal(response.status, 200, response.text);
  const value = decodeMarshal(response.text);
  assert.ok(value instanceof PyObject, response.text);
  return value.attributes;
}

async function jsonInstance(url: string, guid: string): Promise<Record<string, unknown>> {
  const response = await postJson(url, '/slapos.get.v0.software_instance', { instance_guid: guid });
  assert.equal(response.status, 200, response.text);
  return response.body as Record<string, unknown>;
}

async function text(response: Promise<LegacyResponse>, expected: string): Promise<void> {
  const answer = await response;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.text, expected);
}

describe('legacy API: instances in proxy mode', () => {
  it("a child's new connection parameters move its parent's legacy timestamp (the node reprocesses the parent)", async () => {
    const clock = fixedClock(1700000000);
    await withTestMaster(
      async ({ url }) => {
        await formatTestNode(url, { partitions: 2 });
        attributesOf(await legacyPost(url, '/requestComputerPartition', requestFields('root')));
        clock.set(1700000010);
        attributesOf(
          await legacyPost(
            url,
            '/requestComputerPartition',
            requestFields('child', {}, { requester: 'slappart0' }),
          ),
        );
        const rootTimestamp = async (): Promise<unknown> => {
          const partition = decodeMarshal(
            (
              await legacyGet(url, '/registerComputerPartition', {
                computer_reference: 'computer',
                computer_partition_reference: 'slappart0',
              })
            ).text,
          );
          assert.ok(partition instanceof PyObject);
          return (partition.attributes._parameter_dict as MarshalDict).timestamp;
        };
        assert.equal(await rootTimestamp(), '1700000000.0');
        const publish = (value: string): Promise<LegacyResponse> =>
          legacyPost(url, '/setComputerPartitionConnectionXml', {
            computer_id: 'computer',
            computer_partition_id: 'slappart1',
            connection_xml: encodeMarshal({ url: value }),
          });
        clock.set(1700000050.5);
        await text(publish('http://child'), 'done');
        assert.equal(await rootTimestamp(), '1700000050.5');
        // The same parameters again change nothing; a bang later than the publication wins.
        clock.set(1700000060);
        await text(publish('http://child'), 'done');
        assert.equal(await rootTimestamp(), '1700000050.5');
        clock.set(1700000070);
        await text(
          legacyPost(url, '/softwareInstanceBang', {
            computer_id: 'computer',
            computer_partition_id: 'slappart0',
            message: 'm',
          }),
          'OK',
        );
        assert.equal(await rootTimestamp(), '1700000070.0');
        // The JSON API keeps slapproxy's timestamp; its change marker carries the serial.
        assert.equal((await jsonInstance(url, 'root______0')).processing_timestamp, 1700000070);
      },
      { clock },
    );
  });

  it('a partition requests a child of its tree; rename keeps the tree; bang reprocesses the whole tree', async () => {
    const clock = fixedClock(1700000000);
    await withTestMaster(
      async ({ url }) => {
        await formatTestNode(url, { partitions: 3 });
        const root = attributesOf(await legacyPost(url, '/requestComputerPartition', requestFields('root')));
        assert.equal(root.slap_computer_partition_id, 'slappart0');
        clock.set(1700000010);
        const child = attributesOf(
          await legacyPost(
            url,
            '/requestComputerPartition',
            requestFields('child', {}, { requester: 'slappart0' }),
          ),
        );
        assert.equal(child.slap_computer_partition_id, 'slappart1');
        assert.equal((await jsonInstance(url, 'child___root___0')).compute_partition_id, 'slappart1');

        // Bang from the child: the whole tree gets a new timestamp.
        clock.set(1700000100);
        await text(
          legacyPost(url, '/softwareInstanceBang', {
            computer_id: 'computer',
            computer_partition_id: 'slappart1',
            message: 'help',
          }),
          'OK',
        );
        assert.equal((await jsonInstance(url, 'root______0')).processing_timestamp, 1700000100);
        assert.equal((await jsonInstance(url, 'child___root___0')).processing_timestamp, 1700000100);

        // The root renames itself: its child follows.
        await text(
          legacyPost(url, '/softwareInstanceRename', {
            computer_id: 'computer',
            computer_partition_id: 'slappart0',
            new_name: 'renamed',
          }),
          'done',
        );
        assert.equal((await jsonInstance(url, 'child___renamed___0')).compute_partition_id, 'slappart1');
        await text(
          legacyPost(url, '/softwareInstanceRename', {
            computer_id: 'computer',
            computer_partition_id: 'slappart9',
            new_name: 'x',
          }),
          "Unknown partition 'slappart9' on 'computer'",
        );

        // A destroyed report for the root: its child is named, nothing is freed yet.
        await text(
          legacyPost(url, '/destroyedComputerPartition', {
            computer_id: 'computer',
            computer_partition_id: 'slappart0',
          }),
          'Not destroying yet because this partition has child partitions: child',
        );
        await text(
          legacyPost(url, '/destroyedComputerPartition', {
            computer_id: 'computer',
            computer_partition_id: 'slappart1',
          }),
          'OK',
        );
        await text(
          legacyPost(url, '/destroyedComputerPartition', {
            computer_id: 'computer',
            computer_partition_id: 'slappart7',
          }),
          "Unknown partition 'slappart7' on 'computer'",
        );
        const free = attributesOf(
          await legacyGet(url, '/registerComputerPartition', {
            computer_reference: 'computer',
            computer_partition_reference: 'slappart1',
          }),
        );
        assert.equal(free._requested_state, 'destroyed');
        assert.equal(free._need_modification, 0);
      },
      { clock },
    );
  });

  it('connection parameters of a shared instance by its slave_reference; reports and small calls', async () => {
    await withTestMaster(
      async ({ url }) => {
        await formatTestNode(url, { partitions: 2 });
        attributesOf(await legacyPost(url, '/requestComputerPartition', requestFields('host')));
        const shared = attributesOf(
          await legacyPost(
            url,
            '/requestComputerPartition',
            requestFields('front', { n: 1 }, { shared: true }),
          ),
        );
        assert.equal(shared.slap_computer_partition_id, 'slappart0');
        assert.equal(shared._instance_guid, undefined);
        await text(
          legacyPost(url, '/setComputerPartitionConnectionXml', {
            computer_id: 'computer',
            computer_partition_id: 'slappart0',
            slave_reference: '_front',
            connection_xml: encodeMarshal({ secure_access: 'https://front' }),
          }),
          'done',
        );
        assert.deepEqual((await jsonInstance(url, 'front______1')).connection_parameters, {
          secure_access: 'https://front',
        });
        // The requester re-requests and reads them.
        const again = attributesOf(
          await legacyPost(
            url,
            '/requestComputerPartition',
            requestFields('front', { n: 1 }, { shared: true }),
          ),
        );
        assert.deepEqual({ ...(again._connection_dict as MarshalDict) }, { secure_access: 'https://front' });
        // The host's entry keeps the parameter's type.
        const host = attributesOf(
          await legacyGet(url, '/registerComputerPartition', {
            computer_reference: 'computer',
            computer_partition_reference: 'slappart0',
          }),
        );
        const list = (host._parameter_dict as MarshalDict).slave_instance_list as MarshalDict[];
        assert.deepEqual(
          { ...list[0] },
          {
            slave_title: '_front',
            slave_reference: '_front',
            slap_software_type: 'default',
            n: 1,
          },
        );

        const partition = { computer_id: 'computer', computer_partition_id: 'slappart0' };
        await text(legacyPost(url, '/startedComputerPartition', partition), 'Ignored');
        await text(legacyPost(url, '/stoppedComputerPartition', partition), 'Ignored');
        await text(legacyPost(url, '/softwareInstanceError', { ...partition, error_log: 'boom' }), 'Ignored');
        const release = { url: SR, computer_id: 'computer' };
        await text(
          legacyPost(url, '/supplySupply', { ...release, state: 'available' }),
          `Supplied '${SR}' to be available`,
        );
        await text(legacyPost(url, '/buildingSoftwareRelease', release), 'Ignored');
        await text(legacyPost(url, '/availableSoftwareRelease', release), 'Ignored');
        await text(legacyPost(url, '/softwareReleaseError', { ...release, error_log: 'x' }), 'Ignored');
        await text(legacyPost(url, '/destroyedSoftwareRelease', release), 'OK');
        const computer = decodeMarshal(
          (await legacyGet(url, '/getFullComputerInformation', { computer_id: 'computer' })).text,
        ) as PyObject;
        assert.deepEqual(computer.attributes._software_release_list, []);
        await text(
          legacyPost(url, '/useComputer', { computer_id: 'computer', use_string: '<journal/>' }),
          'Ignored',
        );
        await text(
          legacyPost(url, '/computerBang', { computer_id: 'computer', message: 'm' }),
          '<marshal><string></string></marshal>',
        );
        await text(
          legacyGet(url, '/getComputerPartitionCertificate', partition),
          '<marshal><dictionary id="i2"><string>certificate</string><string></string><string>key</string><string></string></dictionary></marshal>',
        );
        await text(
          legacyGet(url, '/getComputerPartitionStatus', partition),
          '<marshal><string>Not implemented.</string></marshal>',
        );
        await text(
          legacyPost(url, '/updateComputerPartitionRelatedInstanceList', {
            ...partition,
            instance_reference_xml: encodeMarshal([]),
          }),
          '',
        );
        const products = await legacyGet(url, '/getSoftwareReleaseListFromSoftwareProduct', {
          software_product_reference: 'kvm',
        });
        assert.equal(
          products.text,
          '<marshal><list id="i2"><string>https://example.com/kvm.cfg</string></list></marshal>',
        );
        await text(
          legacyGet(url, '/getSoftwareReleaseListFromSoftwareProduct', {
            software_product_reference: 'none',
          }),
          '<marshal><list id="i2"/></marshal>',
        );
        const both = await legacyGet(url, '/getSoftwareReleaseListFromSoftwareProduct', {
          software_product_reference: 'kvm',
          software_release_url: SR,
        });
        assert.equal(both.status, 400);
        const runId = await legacyGet(url, '/getRunId');
        assert.match(runId.text, /^[A-Za-z0-9]{32}$/);
        assert.equal((await legacyGet(url, '/getRunId')).text, runId.text);
        // slapproxy has no node certificates.
        assert.equal(
          (await legacyPost(url, '/generateComputerCertificate', { computer_id: 'computer' })).status,
          404,
        );
        assert.equal((await legacyGet(url, '/getHateoasUrl')).text, `${url}/hateoas/`);
      },
      { softwareProductList: { kvm: 'https://example.com/kvm.cfg' } },
    );
  });

  it('what the JSON API requests, the legacy API reads, and a legacy re-request of it changes nothing', async () => {
    const clock = fixedClock(1700000000.5);
    await withTestMaster(
      async ({ url }) => {
        await formatTestNode(url, { partitions: 1 });
        const created = await postJson(url, '/slapos.post.v0.software_instance', {
          title: 'viaJson',
          software_release_uri: SR,
          software_type: 'default',
          parameters: { a: 'b', n: 3 },
        });
        assert.equal(created.status, 200, created.text);
        const partition = attributesOf(
          await legacyGet(url, '/registerComputerPartition', {
            computer_reference: 'computer',
            computer_partition_reference: 'slappart0',
          }),
        );
        const parameters = partition._parameter_dict as MarshalDict;
        assert.equal(parameters.a, 'b');
        assert.equal(parameters.n, '3');
        assert.equal(parameters.timestamp, '1700000000.5');
        clock.set(1700000999);
        const again = attributesOf(
          await legacyPost(url, '/requestComputerPartition', requestFields('viaJson', { a: 'b', n: '3' })),
        );
        assert.equal((again._parameter_dict as MarshalDict).timestamp, '1700000000.5');
        assert.equal(again._instance_guid, 'computer-slappart0');
      },
      { clock },
    );
  });

  it('the same parameter values are accepted by both APIs and read back exactly through the other', async () => {
    const random = seededRandom(9);
    await withTestMaster(async ({ url }) => {
      await formatTestNode(url, { partitions: 2 });
      for (let round = 0; round < 40; round++) {
        // Well formed: a form cannot carry a lone surrogate (the client would send U+FFFD).
        const value = hostileString(random, 6).replace(LONE_SURROGATE, '\uFFFD');
        const key = `k${round % 3}`;
        let fields: LegacyFields;
        try {
          fields = requestFields('L', { [key]: value });
        } catch {
          // Characters XML cannot carry: no legacy client can send them, and the JSON API refuses them.
          const refused = await postJson(url, '/slapos.post.v0.software_instance', {
            title: 'J',
            software_release_uri: SR,
            software_type: 'default',
            parameters: { [key]: value },
          });
          assert.equal(refused.status, 400, refused.text);
          continue;
        }
        const legacy = await legacyPost(url, '/requestComputerPartition', fields);
        const json = await postJson(url, '/slapos.post.v0.software_instance', {
          title: 'J',
          software_release_uri: SR,
          software_type: 'default',
          parameters: { [key]: value },
        });
        assert.equal(
          legacy.status === 200,
          json.status === 200,
          `${JSON.stringify(value)}: ${legacy.text} / ${json.text}`,
        );
        if (legacy.status !== 200) {
          assert.equal(legacy.status, 400, legacy.text);
          continue;
        }
        const expected = value === '' ? null : value;
        assert.deepEqual((await jsonInstance(url, 'L______0')).parameters, { [key]: expected });
        const computer = decodeMarshal(
          (await legacyGet(url, '/getFullComputerInformation', { computer_id: 'computer' })).text,
        ) as PyObject;
        const partitions = computer.attributes._computer_partition_list as PyObject[];
        const viaJson = partitions.find((item) => item.attributes._partition_id === 'slappart1');
        assert.equal((viaJson?.attributes._parameter_dict as MarshalDict)[key], expected);
      }
    });
  });
});

describe('legacy API: which APIs a master serves', () => {
  it('--api legacy: JSON paths are 404; --api json: legacy paths are 404', async () => {
    await withTestMaster(
      async ({ url }) => {
        assert.equal((await postJson(url, '/slapos.allDocs.WIP.compute_node_list', {})).status, 404);
        assert.equal((await legacyGet(url, '/getRunId')).status, 200);
      },
      { api: 'legacy' },
    );
    await withTestMaster(
      async ({ url }) => {
        assert.equal((await postJson(url, '/slapos.allDocs.WIP.compute_node_list', {})).status, 200);
        assert.equal((await legacyGet(url, '/getRunId')).status, 404);
        assert.equal(
          (await legacyGet(url, '/getFullComputerInformation', { computer_id: 'computer' })).status,
          404,
        );
        assert.equal((await legacyGet(url, '/hateoas/')).status, 404);
      },
      { api: 'json' },
    );
  });
});

describe('legacy API: HATEOAS (protocol.md §5.5)', () => {
  it('lists and shows instance trees and compute nodes for slapos service|computer list|info', async () => {
    await withTestMaster(async ({ url }) => {
      await formatTestNode(url, { partitions: 2 });
      attributesOf(await legacyPost(url, '/requestComputerPartition', requestFields('tree', { p: 'v' })));
      attributesOf(
        await legacyPost(
          url,
          '/requestComputerPartition',
          requestFields('front', { u: 1 }, { shared: true }),
        ),
      );
      const root = await legacyGet(url, '/hateoas/');
      assert.equal(root.status, 200);
      assert.deepEqual(JSON.parse(root.text), {
        _links: {
          raw_search: { href: `${url}/hateoas/?mode=search&query={query}&select_list={select_list}` },
          traverse: { href: `${url}/hateoas/?mode=traverse&relative_url={relative_url}&view={view}` },
        },
      });
      const search = async (query: string): Promise<LegacyResponse> =>
        legacyGet(url, '/hateoas/', { mode: 'search', query, select_list: 'title' });
      const trees = await search('portal_type:"Instance Tree" AND validation_state:validated');
      assert.deepEqual(JSON.parse(trees.text), {
        _embedded: {
          contents: [
            { title: 'tree', url_string: SR, relative_url: '/hateoas/partitions/tree' },
            { title: 'front', url_string: SR, relative_url: '/hateoas/shared/front' },
          ],
        },
      });
      const one = await search(
        'portal_type:"Instance Tree" AND validation_state:validated AND title:="front"',
      );
      assert.equal(
        (JSON.parse(one.text) as { _embedded: { contents: unknown[] } })._embedded.contents.length,
        1,
      );
      const nodes = await search(
        'portal_type:"Compute Node" AND validation_state:validated AND reference:="computer"',
      );
      assert.deepEqual(JSON.parse(nodes.text), {
        _embedded: {
          contents: [
            { reference: 'computer', title: 'computer', relative_url: '/hateoas/computers/computer' },
          ],
        },
      });
      assert.equal(
        (await search('portal_type:"Instance Tree" AND validation_state:validated AND title:=x')).status,
        400,
      );
      assert.equal((await search('anything')).status, 400);
      assert.equal((await legacyGet(url, '/hateoas/', { mode: 'other' })).status, 400);

      const traverse = await legacyGet(url, '/hateoas/', {
        mode: 'traverse',
        relative_url: '/hateoas/partitions/tree',
        view: 'view',
      });
      assert.equal(traverse.status, 302);
      assert.equal(traverse.headers.location, '/hateoas/partitions/tree');
      const away = await legacyGet(url, '/hateoas/', {
        mode: 'traverse',
        relative_url: 'https://elsewhere.invalid/',
        view: 'v',
      });
      assert.equal(away.status, 400);

      const tree = JSON.parse((await legacyGet(url, '/hateoas/partitions/tree')).text) as {
        _embedded: { _view: Record<string, { default: unknown }> };
        _links: unknown;
      };
      const view = tree._embedded._view;
      assert.equal(view.my_reference?.default, 'tree');
      assert.equal(view.my_slap_state?.default, 'started');
      assert.equal(
        view.my_text_content?.default,
        "<?xml version='1.0' encoding='utf-8'?>\n<instance>\n  <parameter id=\"p\">v</parameter>\n</instance>\n",
      );
      assert.equal(view.my_connection_parameter_list?.default, null);
      assert.equal(view.my_root_slave?.default, 0);
      const front = JSON.parse((await legacyGet(url, '/hateoas/shared/front')).text) as typeof tree;
      assert.equal(front._embedded._view.my_slap_state?.default, 'unused');
      assert.equal(front._embedded._view.my_root_slave?.default, 1);
      const computer = JSON.parse((await legacyGet(url, '/hateoas/computers/computer')).text) as typeof tree;
      assert.deepEqual(computer._links, { type: { name: 'Computer' } });
      assert.equal((await legacyGet(url, '/hateoas/partitions/none')).status, 404);
      assert.equal((await legacyGet(url, '/hateoas/shared/tree')).status, 404);
      assert.equal((await legacyGet(url, '/hateoas/computers/none')).status, 404);
    });
  });
});
