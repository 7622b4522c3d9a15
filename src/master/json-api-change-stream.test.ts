/**
 * The change stream (our extension, slapos-extensions.json): the compute node snapshot, the
 * revision bumped by every change a node must act on (and only those), and the watch long poll
 * woken by the commit, over real HTTP. Every answer is checked against the extension's schemas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { fixedClock } from '../core/clock.ts';
import { pyFloatRepr } from '../core/python-value.ts';
import { callApi, postJson, startTestMaster, type TestMaster } from '../testing/master.ts';
import { JsonMasterClient } from '../client/master-client.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';

const SNAPSHOT = '/slapos.get.ext.compute_node_snapshot';
const WATCH = '/slapos.watch.ext.compute_node_revision';
const FORMAT = '/slapos.put.v0.compute_node_format';
const POST = '/slapos.post.v0.software_instance';
const SR = 'https://example.com/sr/software.cfg';

interface Snapshot {
  computer_guid: string;
  revision: number;
  software_installation_list: { software_release_uri: string; state: string }[];
  compute_partition_list: {
    compute_partition_id: string;
    instance_guid: string;
    title: string;
    root_instance_title: string;
    state: string;
    software_release_uri: string;
    software_type: string;
    parameters: Record<string, string | null>;
    sla_parameters: Record<string, unknown>;
    connection_parameters: Record<string, string | null>;
    ip_list: string[][];
    timestamp: string;
    processing_timestamp: number;
    marker: string;
    shared_instance_list: {
      title: string;
      instance_guid: string;
      software_type: string;
      parameters: Record<string, unknown>;
      connection_parameters: Record<string, string | null>;
    }[];
  }[];
}

async function withMaster(
  work: (env: {
    master: TestMaster;
    client: JsonMasterClient;
    clock: ReturnType<typeof fixedClock>;
  }) => Promise<void>,
): Promise<void> {
  const clock = fixedClock(1_700_000_000.25);
  const master = await startTestMaster({ clock, computerId: 'COMP-A' });
  const client = new JsonMasterClient({ masterUrl: master.url });
  try {
    await work({ master, client, clock });
  } finally {
    await client.close();
    await master.close();
  }
}

async function format(url: string, node: string, partitions: number): Promise<void> {
  const response = await callApi(url, FORMAT, {
    computer_guid: node,
    compute_partition_list: Array.from({ length: partitions }, (_, index) => ({
      partition_id: `slappart${index}`,
      ip_list: [{ 'ip-address': `127.0.${index}.1`, 'network-interface': 'lo', netmask: '255.255.255.0' }],
    })),
  });
  assert.equal(response.status, 200);
}

async function snapshot(url: string, node = 'COMP-A'): Promise<Snapshot> {
  const answer = await callApi(url, SNAPSHOT, { computer_guid: node });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body as Snapshot;
}

async function revision(url: string, node = 'COMP-A'): Promise<number> {
  const answer = await callApi(url, WATCH, { computer_guid: node, after_revision: 0, timeout_ms: 0 });
  return (answer.body as { revision: number }).revision;
}

test('the snapshot carries what a node pass needs, with precise timestamps and markers', async () => {
  await withMaster(async ({ master, client, clock }) => {
    await format(master.url, 'COMP-A', 3);
    await client.supply({ softwareReleaseUri: SR, computerGuid: 'COMP-A' });
    const root = await client.requestInstance({
      title: 'root',
      softwareReleaseUri: SR,
      parameters: { name: 'Alice', size: 3 },
      slaParameters: { computer_guid: 'COMP-A', retention_delay: 2 },
    });
    clock.advance(0.5);
    await client.requestInstance({
      title: 'front',
      softwareReleaseUri: SR,
      shared: true,
      parameters: { url: 'http://x', port: 8080 },
    });
    await client.setConnectionParameters({
      instanceGuid: root.instance_guid,
      parameters: { url: 'http://a' },
    });

    const body = await snapshot(master.url);
    assert.equal(body.computer_guid, 'COMP-A');
    assert.deepEqual(body.software_installation_list, [{ software_release_uri: SR, state: 'available' }]);
    assert.equal(body.compute_partition_list.length, 1, 'free partitions are not listed');
    const [partition] = body.compute_partition_list;
    assert.ok(partition);
    assert.equal(partition.compute_partition_id, 'slappart0');
    assert.equal(partition.instance_guid, 'root______0');
    assert.equal(partition.root_instance_title, 'root');
    assert.equal(partition.state, 'started');
    assert.equal(partition.software_type, 'default');
    assert.deepEqual(partition.parameters, { name: 'Alice', size: '3' });
    assert.deepEqual(partition.sla_parameters, { computer_guid: 'COMP-A', retention_delay: 2 });
    assert.deepEqual(partition.connection_parameters, { url: 'http://a' });
    assert.deepEqual(partition.ip_list, [['lo', '127.0.0.1']]);
    // The shared instance bumped the host's timestamp: precise, as the legacy API prints it.
    assert.equal(partition.timestamp, pyFloatRepr(1_700_000_000.75));
    assert.equal(partition.timestamp, '1700000000.75');
    assert.equal(partition.processing_timestamp, 1_700_000_000);
    assert.equal(partition.marker, '1700000000.75');
    assert.deepEqual(partition.shared_instance_list, [
      {
        title: 'front',
        instance_guid: 'front______1',
        software_type: 'default',
        parameters: { url: 'http://x', port: 8080 },
        connection_parameters: {},
      },
    ]);
  });
});

test('the revision moves with every change the node acts on, and only with those', async () => {
  await withMaster(async ({ master, client, clock }) => {
    const url = master.url;
    let last = await revision(url);
    assert.equal(last, 0, 'a node never changed is at revision 0');
    const expectBump = async (
      what: string,
      change: () => Promise<unknown>,
      node = 'COMP-A',
    ): Promise<void> => {
      const before = await revision(url, node);
      clock.advance(1);
      await change();
      const after = await revision(url, node);
      assert.ok(after > before, `${what} bumps the revision (${before} → ${after})`);
    };
    const expectSame = async (what: string, change: () => Promise<unknown>): Promise<void> => {
      const before = await revision(url);
      clock.advance(1);
      await change();
      assert.equal(await revision(url), before, `${what} leaves the revision alone`);
    };
    await expectBump('format', () => format(url, 'COMP-A', 4));
    await expectBump('supply', () => client.supply({ softwareReleaseUri: SR, computerGuid: 'COMP-A' }));
    await expectBump('a new instance', () =>
      client.requestInstance({ title: 'root', softwareReleaseUri: SR, parameters: { a: '1' } }),
    );
    await expectSame('the same request again', () =>
      client.requestInstance({ title: 'root', softwareReleaseUri: SR, parameters: { a: '1' } }),
    );
    await expectBump('a parameter change', () =>
      client.requestInstance({ title: 'root', softwareReleaseUri: SR, parameters: { a: '2' } }),
    );
    await expectBump('a state change', () =>
      client.requestInstance({
        title: 'root',
        softwareReleaseUri: SR,
        parameters: { a: '2' },
        state: 'stopped',
      }),
    );
    await expectBump('a bang', () => client.bang({ instanceGuid: 'root______0', message: 'crash' }));
    const busyMarker = async (): Promise<string | undefined> =>
      (await snapshot(url)).compute_partition_list.find((p) => p.title === 'root')?.marker;
    const markerBeforeNodeBang = await busyMarker();
    await expectBump('a compute node bang', () =>
      client.bangComputeNode({ computerGuid: 'COMP-A', message: 'reprocess everything' }),
    );
    assert.notEqual(await busyMarker(), markerBeforeNodeBang, "a node bang changes its instances' markers");
    await expectBump('a shared instance', () =>
      client.requestInstance({
        title: 'front',
        softwareReleaseUri: SR,
        shared: true,
        parameters: { u: 'x' },
      }),
    );
    await expectSame('reported states and errors', async () => {
      await client.reportInstanceState({ instanceGuid: 'root______0', state: 'stopped' });
      await client.reportInstanceError({ instanceGuid: 'root______0', message: 'oops' });
    });
    await expectSame('connection parameters of a root (nobody consumes them)', () =>
      client.setConnectionParameters({ instanceGuid: 'root______0', parameters: { url: 'http://r' } }),
    );

    // A child requested by the root's partition: its connection parameters concern the root.
    const child = await client.requestInstance({
      title: 'child',
      softwareReleaseUri: SR,
      requester: { computerGuid: 'COMP-A', partitionId: 'slappart0' },
    });
    assert.equal(child.root_instance_title, 'root');
    const markerBefore = (await snapshot(url)).compute_partition_list.find(
      (p) => p.compute_partition_id === 'slappart0',
    )?.marker;
    await expectBump("a child's new connection parameters", () =>
      client.setConnectionParameters({ instanceGuid: child.instance_guid, parameters: { url: 'http://c' } }),
    );
    const after = (await snapshot(url)).compute_partition_list.find(
      (p) => p.compute_partition_id === 'slappart0',
    );
    assert.ok(after);
    assert.notEqual(after.marker, markerBefore, "the requester's marker changes");
    assert.equal(after.marker, `${after.timestamp}+1`);
    assert.equal(
      after.processing_timestamp,
      Math.trunc(Number(after.timestamp)),
      'the partition timestamp itself is untouched',
    );
    await expectSame('the same connection parameters again', () =>
      client.setConnectionParameters({ instanceGuid: child.instance_guid, parameters: { url: 'http://c' } }),
    );

    // Destroying the root: its report marks the child destroyed (no timestamp bump) and frees nothing…
    await client.requestInstance({ title: 'root', softwareReleaseUri: SR, state: 'destroyed' });
    await expectBump('children marked destroyed by a destroyed root', () =>
      client.reportInstanceState({ instanceGuid: 'root______0', state: 'destroyed' }).catch(() => undefined),
    );
    assert.equal(
      (await snapshot(url)).compute_partition_list.find((p) => p.title === 'child')?.state,
      'destroyed',
    );
    await expectBump('a partition freed', () =>
      client.reportInstanceState({ instanceGuid: child.instance_guid, state: 'destroyed' }),
    );
    assert.ok(!(await snapshot(url)).compute_partition_list.some((p) => p.title === 'child'));
    last = await revision(url);
    assert.ok(last >= 11);
  });
});

test('revisions are per compute node', async () => {
  await withMaster(async ({ master, client }) => {
    await format(master.url, 'COMP-A', 2);
    await format(master.url, 'COMP-B', 2);
    const a = await revision(master.url, 'COMP-A');
    const b = await revision(master.url, 'COMP-B');
    await client.requestInstance({
      title: 'on-b',
      softwareReleaseUri: SR,
      slaParameters: { computer_guid: 'COMP-B' },
    });
    assert.equal(await revision(master.url, 'COMP-A'), a);
    assert.ok((await revision(master.url, 'COMP-B')) > b);
    assert.equal((await snapshot(master.url, 'COMP-B')).compute_partition_list[0]?.title, 'on-b');
    assert.deepEqual((await snapshot(master.url, 'COMP-A')).compute_partition_list, []);
  });
});

/** Waits until `count` watchers wait in the hub (polled on timers shorter than any watch deadline). */
async function watchersWaiting(master: TestMaster, count: number): Promise<void> {
  const hub = master.master.services.context.revisions;
  const deadline = Date.now() + 10_000;
  while (hub.size !== count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(hub.size, count, `${count} watcher(s) waiting`);
}

test('watch answers at once when behind, when a change commits, and at its deadline otherwise', async () => {
  await withMaster(async ({ master, client }) => {
    await format(master.url, 'COMP-A', 2);
    const current = await revision(master.url);
    const behind = await client.watchComputeNode({
      computerGuid: 'COMP-A',
      afterRevision: 0,
      timeoutMs: 20_000,
    });
    assert.deepEqual(behind, { computer_guid: 'COMP-A', revision: current, changed: true });

    // Nothing changes: the watch waits (it is seen waiting, timers fire in deadline order) until
    // its deadline, then answers with the same revision.
    const idle = client.watchComputeNode({ computerGuid: 'COMP-A', afterRevision: current, timeoutMs: 300 });
    await watchersWaiting(master, 1);
    assert.deepEqual(await idle, { computer_guid: 'COMP-A', revision: current, changed: false });
    assert.equal(master.master.services.context.revisions.size, 0);

    // A sentinel on a node that never changes, with a shorter deadline than the watch after it: if
    // the watch were answered by its deadline, the sentinel would have been answered first.
    const sentinelAbort = new AbortController();
    let sentinelAnswered = false;
    const sentinel = client
      .watchComputeNode(
        { computerGuid: 'COMP-Z', afterRevision: 0, timeoutMs: 30_000 },
        { signal: sentinelAbort.signal },
      )
      .then(
        () => (sentinelAnswered = true),
        () => undefined,
      );
    await watchersWaiting(master, 1);
    const watching = client.watchComputeNode({
      computerGuid: 'COMP-A',
      afterRevision: current,
      timeoutMs: 40_000,
    });
    await watchersWaiting(master, 2);
    // A change on another node does not answer it.
    await format(master.url, 'COMP-B', 1);
    assert.equal(master.master.services.context.revisions.size, 2, 'still waiting after a change elsewhere');
    await client.requestInstance({ title: 'x', softwareReleaseUri: SR });
    const woken = await watching;
    assert.equal(woken.changed, true);
    assert.ok(woken.revision > current);
    assert.equal(sentinelAnswered, false, 'the watch was answered by the change, before any deadline');
    sentinelAbort.abort(new Error('done'));
    await sentinel;
    await watchersWaiting(master, 0);
  });
});

test('a node not registered yet can be watched; its format answers the watch', async () => {
  await withMaster(async ({ master, client }) => {
    await rejectsWithSlapError(client.readNodeSnapshot('COMP-NEW'), 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND');
    const watching = client.watchComputeNode({
      computerGuid: 'COMP-NEW',
      afterRevision: 0,
      timeoutMs: 40_000,
    });
    await format(master.url, 'COMP-NEW', 1);
    const answer = await watching;
    assert.equal(answer.changed, true);
    assert.equal((await client.readNodeSnapshot('COMP-NEW')).revision, answer.revision);
  });
});

test('a client that goes away stops its watch; closing the master answers the watches at once', async () => {
  await withMaster(async ({ master, client }) => {
    await format(master.url, 'COMP-A', 1);
    const hub = master.master.services.context.revisions;
    const controller = new AbortController();
    const abandoned = client.watchComputeNode(
      { computerGuid: 'COMP-A', afterRevision: 99, timeoutMs: 40_000 },
      { signal: controller.signal },
    );
    const deadline = Date.now() + 10_000;
    while (hub.size === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(hub.size, 1);
    controller.abort(new Error('gone'));
    await assert.rejects(abandoned, /gone/);
    while (hub.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(hub.size, 0, 'the watcher of a closed connection is dropped');

    const waiting = client.watchComputeNode({ computerGuid: 'COMP-A', afterRevision: 99, timeoutMs: 40_000 });
    while (hub.size === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    await master.master.close();
    // Answered, not cut: the test master's close grace (2 s) is shorter than the watch's deadline, so
    // a close that waited for the long poll would have cut its connection instead.
    const answer = await waiting;
    assert.equal(answer.changed, false);
  });
});

test('bad watch and snapshot bodies are 400s with the reason; the extension document is served', async () => {
  await withMaster(async ({ master }) => {
    for (const body of [
      { computer_guid: 'COMP-A', after_revision: 0, timeout_ms: 50_001 },
      { computer_guid: 'COMP-A', after_revision: -1, timeout_ms: 10 },
      { computer_guid: 'COMP-A', timeout_ms: 10 },
      { computer_guid: 'COMP-A', after_revision: 'x', timeout_ms: 10 },
      { computer_guid: 'bad\nid', after_revision: 0, timeout_ms: 10 },
      { computer_guid: 'COMP-A', after_revision: 0, timeout_ms: 10, extra: 1 },
    ]) {
      const answer = await callApi(master.url, WATCH, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
    }
    assert.equal((await callApi(master.url, SNAPSHOT, {})).status, 400);
    const unknown = await callApi(master.url, SNAPSHOT, { computer_guid: 'nope' });
    assert.deepEqual(unknown.body, { status: 403, type: 'Forbidden', title: 'nope is not registered.' });
    const wrongMethod = await postJson(master.url, SNAPSHOT, undefined, { method: 'GET' });
    assert.equal(wrongMethod.status, 405);

    const documentAnswer = await request(`${master.url}/api/slapos-extensions.json`);
    assert.equal(documentAnswer.statusCode, 200);
    const document = (await documentAnswer.body.json()) as { paths: Record<string, unknown> };
    assert.deepEqual(Object.keys(document.paths).sort(), [
      '/slapos.allDocs.ext.invoice_list',
      SNAPSHOT,
      '/slapos.get.ext.compute_node_software_installation_status',
      '/slapos.get.ext.instance_backup_list',
      '/slapos.get.ext.invoice',
      '/slapos.get.ext.invoice_evidence',
      '/slapos.get.ext.software_instance_promise_result',
      '/slapos.get.ext.software_instance_status',
      '/slapos.post.ext.backup_sync',
      '/slapos.post.ext.compute_node_certificate_renewal',
      '/slapos.post.ext.compute_node_registration',
      '/slapos.post.ext.instance_backup',
      '/slapos.post.ext.instance_restore',
      '/slapos.post.ext.instance_takeover',
      '/slapos.post.ext.registration_token',
      '/slapos.put.ext.compute_node_allocation_scope',
      '/slapos.put.ext.software_instance_promise_result',
      WATCH,
    ]);
    // The v0 contract is untouched: a v0 path is not in our document.
    assert.equal(document.paths[POST], undefined);
  });
});
