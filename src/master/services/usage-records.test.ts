/** Usage reports stored as usage records (attributed through the partition history), and their series. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { escapeXmlText, isXmlCompatible } from '../../core/xml-text.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { openMasterModeServices, type MasterModeServices } from '../../testing/master-mode-services.ts';
import type { UsageRecord } from '../storage/repository.ts';
import type { Caller } from './index.ts';
import { USAGE_CLOCK_SKEW_SECONDS } from './usage-records.ts';

const SR = 'https://example.com/sr.cfg';
const T0 = 1_700_000_000;
const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
const node1: Caller = { kind: 'compute_node', computeNodeId: 'COMP-1' };
const node2: Caller = { kind: 'compute_node', computeNodeId: 'COMP-2' };

interface Movement {
  partition: string;
  resource: string;
  quantity: string;
  title?: string;
}

/** `YYYY-MM-DD at HH:MM:SS`, as our node writes stop_date. */
function journalDate(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} at ${iso.slice(11, 19)}`;
}

/** A journal as our node sends it (usage-xml.ts), or with a start_date as slapos.collect's. */
function journal(stop: number, movements: readonly Movement[], start?: number): string {
  return (
    '<journal><transaction type="Sale Packing List"><title>Resource consumptions</title>' +
    `<start_date>${start === undefined ? '' : journalDate(start)}</start_date>` +
    `<stop_date>${journalDate(stop)}</stop_date><reference>COMP-1</reference><currency/><payment_mode/>` +
    '<category/><arrow type="Administration"><source/><destination/></arrow>' +
    movements
      .map(
        (m) =>
          `<movement><resource>${escapeXmlText(m.resource)}</resource>` +
          (m.title === undefined ? '' : `<title>${escapeXmlText(m.title)}</title>`) +
          `<reference>${escapeXmlText(m.partition)}</reference><quantity>${m.quantity}</quantity>` +
          '<price>0.0</price><VAT/></movement>',
      )
      .join('') +
    '</transaction></journal>'
  );
}

/** alice's open node COMP-1 with `partitions` partitions; bob's COMP-2; her tree on slappart0. */
async function world(
  partitions: number,
): Promise<MasterModeServices & { clock: ReturnType<typeof fixedClock> }> {
  const clock = fixedClock(T0);
  const opened = await openMasterModeServices({ clock });
  const { services, setUp, format, request } = opened;
  await setUp({
    users: ['alice', 'bob'],
    nodes: [
      { owner: 'alice', title: 'one' },
      { owner: 'bob', title: 'two' },
    ],
  });
  await format('COMP-1', partitions);
  await format('COMP-2', 1);
  await services.supplySoftware({ caller: alice, computeNodeId: 'COMP-1', url: SR, state: 'available' });
  await services.updateComputeNodeAccess({ caller: alice, computeNodeId: 'COMP-1', allocationScope: 'open' });
  const tree = await request(alice, 'tree', SR);
  assert.deepEqual([tree.computeNodeId, tree.partitionId], ['COMP-1', 'slappart0']);
  return { ...opened, clock };
}

async function records(opened: MasterModeServices): Promise<UsageRecord[]> {
  return opened.store.read((repository) =>
    repository.listUsageRecords('COMP-1', { from: 0, to: Number.MAX_SAFE_INTEGER, limit: 1000 }),
  );
}

/** [partition, resource, stop − T0, quantity, owner, tree] of each record. */
async function summary(opened: MasterModeServices): Promise<unknown[]> {
  return (await records(opened)).map((r) => [
    r.partitionId,
    r.resource,
    r.stop - T0,
    r.quantity,
    r.holder?.owner ?? null,
    r.holder?.instanceTree ?? null,
  ]);
}

test('a journal sent twice counts once; a partition reused after a destroy attributes each interval to its holder', async () => {
  const opened = await world(1);
  const { services, clock, store } = opened;
  try {
    const report = (usageXml: string) =>
      services.reportComputeNodeUsage({ caller: node1, computeNodeId: 'COMP-1', usageXml });
    clock.set(T0 + 100);
    const first = journal(T0 + 100, [
      { partition: 'slappart0', resource: CPU, quantity: '5' },
      { partition: 'slappart0', resource: MEMORY, quantity: '10.5' },
    ]);
    assert.equal(await report(first), 'Ignored');
    assert.equal(await report(first), 'Ignored');
    assert.deepEqual(await summary(opened), [
      ['slappart0', CPU, 100, 5, 'alice', 'tree'],
      ['slappart0', MEMORY, 100, 10.5, 'alice', 'tree'],
    ]);

    // alice's tree goes; bob takes the partition.
    clock.set(T0 + 200);
    await services.reportInstanceState({
      caller: node1,
      instanceGuid: 'SOFTINST-1',
      reportedState: 'destroyed',
    });
    clock.set(T0 + 300);
    const bobs = await opened.request(bob, 'bobtree', SR);
    assert.deepEqual([bobs.computeNodeId, bobs.partitionId], ['COMP-1', 'slappart0']);

    clock.set(T0 + 400);
    await report(journal(T0 + 400, [{ partition: 'slappart0', resource: CPU, quantity: '7' }]));
    // Late journals: alice's time, and the time nobody held the partition; the first one again.
    await report(journal(T0 + 150, [{ partition: 'slappart0', resource: CPU, quantity: '1' }]));
    await report(journal(T0 + 250, [{ partition: 'slappart0', resource: CPU, quantity: '2' }]));
    await report(first);
    assert.deepEqual(await summary(opened), [
      ['slappart0', CPU, 100, 5, 'alice', 'tree'],
      ['slappart0', MEMORY, 100, 10.5, 'alice', 'tree'],
      ['slappart0', CPU, 150, 1, 'alice', 'tree'],
      ['slappart0', CPU, 250, 2, null, null],
      ['slappart0', CPU, 400, 7, 'bob', 'bobtree'],
    ]);
    const [aliceRecord, , , , bobRecord] = await records(opened);
    assert.notEqual(aliceRecord?.holder?.instanceId, bobRecord?.holder?.instanceId);

    // bob's instance sees only its own interval; the node all of them.
    const range = { resources: [CPU], from: T0, to: T0 + 1000 };
    assert.deepEqual(
      await services.readUsageSeries({ caller: bob, instanceGuid: bobs.instanceGuid, ...range }),
      [{ resource: CPU, points: [{ stop: T0 + 400, quantity: 7 }] }],
    );
    assert.deepEqual(
      (await services.readUsageSeries({ caller: alice, computeNodeId: 'COMP-1', ...range }))[0]?.points.map(
        (p) => [p.stop - T0, p.quantity],
      ),
      [
        [100, 5],
        [150, 1],
        [250, 2],
        [400, 7],
      ],
    );
    // bob does not own COMP-1: to him it does not exist.
    await assert.rejects(services.readUsageSeries({ caller: bob, computeNodeId: 'COMP-1', ...range }), {
      code: 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
    });
  } finally {
    await store.close();
  }
});

test('bad reports are refused with a 4xx and store nothing, even their valid movements', async () => {
  const opened = await world(2);
  const { services, clock, store } = opened;
  try {
    clock.set(T0 + 1000);
    const good = { partition: 'slappart1', resource: CPU, quantity: '1' };
    const refusals: [string, string, string][] = [
      [
        'unknown partition',
        journal(T0 + 900, [good, { ...good, partition: 'slappart9' }]),
        'SLAP_ERR_PARTITION_NOT_FOUND',
      ],
      [
        "another node's partition",
        journal(T0 + 900, [good, { ...good, partition: 'COMP-2' }]),
        'SLAP_ERR_PARTITION_NOT_FOUND',
      ],
      [
        'negative',
        journal(T0 + 900, [good, { ...good, resource: MEMORY, quantity: '-1' }]),
        'SLAP_ERR_USAGE_REPORT_INVALID',
      ],
      [
        'not finite',
        journal(T0 + 900, [good, { ...good, resource: MEMORY, quantity: '1e999' }]),
        'SLAP_ERR_USAGE_REPORT_INVALID',
      ],
      [
        'not a number',
        journal(T0 + 900, [good, { ...good, resource: MEMORY, quantity: 'NaN' }]),
        'SLAP_ERR_USAGE_REPORT_INVALID',
      ],
      ['stop before start', journal(T0 + 900, [good], T0 + 901), 'SLAP_ERR_USAGE_REPORT_INVALID'],
      [
        'in the future',
        journal(T0 + 1000 + USAGE_CLOCK_SKEW_SECONDS + 1, [good]),
        'SLAP_ERR_USAGE_REPORT_INVALID',
      ],
      ['malformed', journal(T0 + 900, [good]).slice(0, -3), 'SLAP_ERR_USAGE_REPORT_INVALID'],
      ['empty', '', 'SLAP_ERR_USAGE_REPORT_INVALID'],
    ];
    for (const [name, usageXml, code] of refusals)
      await assert.rejects(
        services.reportComputeNodeUsage({ caller: node1, computeNodeId: 'COMP-1', usageXml }),
        (error: { code?: string; status?: number }) =>
          error.code === code && (error.status ?? 0) >= 400 && (error.status ?? 0) < 500,
        name,
      );
    // A node reports only for itself: another node does not exist to it.
    await assert.rejects(
      services.reportComputeNodeUsage({
        caller: node2,
        computeNodeId: 'COMP-1',
        usageXml: journal(T0, [good]),
      }),
      { code: 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND' },
    );
    assert.deepEqual(await records(opened), []);

    // Within the clock skew, the node itself (its own figures), and one journal's duplicates summed.
    await services.reportComputeNodeUsage({
      caller: node1,
      computeNodeId: 'COMP-1',
      usageXml: journal(T0 + 1000 + USAGE_CLOCK_SKEW_SECONDS, [
        good,
        { ...good, quantity: '2.5' },
        { partition: 'COMP-1', resource: MEMORY, quantity: '3' },
      ]),
    });
    assert.deepEqual(await summary(opened), [
      ['', MEMORY, 1000 + USAGE_CLOCK_SKEW_SECONDS, 3, null, null],
      ['slappart1', CPU, 1000 + USAGE_CLOCK_SKEW_SECONDS, 3.5, null, null],
    ]);
  } finally {
    await store.close();
  }
});

test('series: per resource in the order asked, summed over partitions per interval, within the range', async () => {
  const opened = await world(3);
  const { services, clock, store, request } = opened;
  try {
    clock.set(T0 + 10);
    const second = await request(alice, 'second', SR);
    assert.equal(second.partitionId, 'slappart1');
    clock.set(T0 + 10_000);
    for (const stop of [T0 + 300, T0 + 100, T0 + 200])
      await services.reportComputeNodeUsage({
        caller: node1,
        computeNodeId: 'COMP-1',
        usageXml: journal(stop, [
          { partition: 'slappart0', resource: CPU, quantity: String((stop - T0) / 100) },
          { partition: 'slappart1', resource: CPU, quantity: '10' },
          { partition: 'slappart1', resource: MEMORY, quantity: '64' },
        ]),
      });
    const series = await services.readUsageSeries({
      caller: alice,
      computeNodeId: 'COMP-1',
      resources: [MEMORY, CPU, 'service_module/disk_used'],
      from: T0 + 150,
      to: T0 + 300,
    });
    assert.deepEqual(series, [
      {
        resource: MEMORY,
        points: [
          { stop: T0 + 200, quantity: 64 },
          { stop: T0 + 300, quantity: 64 },
        ],
      },
      {
        resource: CPU,
        points: [
          { stop: T0 + 200, quantity: 12 },
          { stop: T0 + 300, quantity: 13 },
        ],
      },
      { resource: 'service_module/disk_used', points: [] },
    ]);
    const own = await services.readUsageSeries({
      caller: alice,
      instanceGuid: second.instanceGuid,
      resources: [CPU],
      from: 0,
      to: T0 + 10_000,
    });
    assert.deepEqual(
      own[0]?.points.map((p) => p.quantity),
      [10, 10, 10],
    );
    for (const bad of [
      { resources: [], from: 0, to: 1 },
      { resources: [''], from: 0, to: 1 },
      { resources: [CPU], from: 2, to: 1 },
      { resources: [CPU], from: Number.NaN, to: 1 },
      { resources: Array.from({ length: 17 }, (_, i) => `r${i}`), from: 0, to: 1 },
    ])
      await assert.rejects(services.readUsageSeries({ caller: alice, computeNodeId: 'COMP-1', ...bad }), {
        code: 'SLAP_ERR_INVALID_INPUT',
      });
  } finally {
    await store.close();
  }
});

test('property: hostile resource names and titles are stored and read back exactly', async () => {
  const opened = await world(1);
  const { services, clock, store } = opened;
  try {
    clock.set(T0 + 100_000);
    const random = seededRandom(10);
    const xmlText = () =>
      [...hostileString(random, 8), ...'<script>"&\'']
        .filter((char) => isXmlCompatible(char))
        .slice(0, 400)
        .join('');
    const sent: { resource: string; title: string; stop: number }[] = [];
    for (let i = 0; i < 60; i++) {
      const resource = `${i}:${xmlText()}`;
      const title = xmlText();
      const stop = T0 + i;
      sent.push({ resource, title, stop });
      await services.reportComputeNodeUsage({
        caller: node1,
        computeNodeId: 'COMP-1',
        usageXml: journal(stop, [{ partition: 'slappart0', resource, title, quantity: String(i) }]),
      });
      const [series] = await services.readUsageSeries({
        caller: alice,
        computeNodeId: 'COMP-1',
        resources: [resource],
        from: 0,
        to: T0 + 100_000,
      });
      assert.deepEqual(series, { resource, points: [{ stop, quantity: i }] });
    }
    assert.deepEqual(
      (await records(opened)).map((r) => ({ resource: r.resource, title: r.title, stop: r.stop })),
      sent,
    );
  } finally {
    await store.close();
  }
});
