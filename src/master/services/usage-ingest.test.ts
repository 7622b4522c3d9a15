/**
 * Usage reports ingested for billing: journals stored as received (seals checked), intervals counted
 * once, movements charged to the holders of their partitions, split at holder changes and UTC months.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { fixedClock } from '../../core/clock.ts';
import { sealUsageJournal, usageDocumentHash } from '../../core/usage-signature.ts';
import { EC_P256_SHA256, generateEcKeyPair, privateKeyPem, x509 } from '../../lib/x509.ts';
import {
  openMasterModeServices,
  openTestCertificateAuthority,
  type MasterModeServices,
} from '../../testing/master-mode-services.ts';
import { openTestStore } from '../../testing/test-database.ts';
import { silentLogger } from '../../lib/logger.ts';
import { escapeXmlText, isXmlCompatible } from '../../core/xml-text.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { MasterStore } from '../storage/repository.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
  type Caller,
} from './index.ts';

const SR = 'https://example.com/sr.cfg';
const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';
/** 2026-01-31T22:00:00Z: two hours before February. */
const T0 = Date.UTC(2026, 0, 31, 22) / 1000;
const FEB_1 = Date.UTC(2026, 1, 1) / 1000;
const HOUR = 3600;
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
const node1: Caller = { kind: 'compute_node', computeNodeId: 'COMP-1' };

function journalDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** An interval journal of COMP-1: [partition, resource, quantity] movements. */
function journal(start: number, stop: number, movements: [string, string, string][]): string {
  return (
    `<?xml version='1.0' encoding='utf-8'?>\n<journal><transaction type="Sale Packing List">` +
    `<start_date>${journalDate(start)}</start_date><stop_date>${journalDate(stop)}</stop_date>` +
    movements
      .map(
        ([partition, resource, quantity]) =>
          `<movement><resource>${resource}</resource><reference>${partition}</reference>` +
          `<quantity>${quantity}</quantity></movement>`,
      )
      .join('') +
    '</transaction></journal>\n'
  );
}

/** [period, owner, tree, resource, quantity in millionths] of every sum of every period given. */
async function sums(store: MasterStore, periods: number[]): Promise<unknown[]> {
  const rows: unknown[] = [];
  for (const period of periods)
    for (const sum of await store.read((r) => r.sumUsageCharges({ period })))
      rows.push([period, sum.owner, sum.instanceTree, sum.resource, sum.quantityMicro]);
  return rows;
}

/** alice's open node COMP-1 (two partitions), bob's COMP-2; alice's `tree` on COMP-1/slappart0 at T0. */
async function world(
  ca?: CertificateAuthority,
): Promise<MasterModeServices & { clock: ReturnType<typeof fixedClock> }> {
  const clock = fixedClock(T0);
  const opened = await openMasterModeServices({ clock, ...(ca ? { ca } : {}) });
  const { services, setUp, format, request } = opened;
  await setUp({
    users: ['alice', 'bob'],
    nodes: [
      { owner: 'alice', title: 'one' },
      { owner: 'bob', title: 'two' },
    ],
  });
  await format('COMP-1', 2);
  await format('COMP-2', 1);
  await services.supplySoftware({ caller: alice, computeNodeId: 'COMP-1', url: SR, state: 'available' });
  await services.updateComputeNodeAccess({ caller: alice, computeNodeId: 'COMP-1', allocationScope: 'open' });
  const tree = await request(alice, 'tree', SR);
  assert.deepEqual([tree.computeNodeId, tree.partitionId], ['COMP-1', 'slappart0']);
  return { ...opened, clock };
}

test('charges: split at the month boundary and at the change of holder; an interval sent twice counts once', async () => {
  const opened = await world();
  const { services, clock, store } = opened;
  try {
    const report = (usageXml: string) =>
      services.reportComputeNodeUsage({ caller: node1, computeNodeId: 'COMP-1', usageXml });
    clock.set(T0 + 3 * HOUR);
    // Three hours across midnight UTC of January's last day: 2 hours in January, 1 in February.
    const first = journal(T0, T0 + 3 * HOUR, [
      ['slappart0', CPU, '3'],
      ['slappart0', MEMORY, '100'],
      ['slappart1', CPU, '5'],
      ['COMP-1', CPU, '9'],
    ]);
    await report(first);
    const expected = [
      [202601, 'alice', 'tree', CPU, 2_000_000n],
      [202601, 'alice', 'tree', MEMORY, 200_000_000n],
      [202602, 'alice', 'tree', CPU, 1_000_000n],
      [202602, 'alice', 'tree', MEMORY, 100_000_000n],
    ];
    assert.deepEqual(await sums(store, [202601, 202602]), expected);
    // The same document, and another one for the same intervals: nothing more is charged.
    await report(first);
    await report(journal(T0, T0 + 3 * HOUR, [['slappart0', CPU, '30']]));
    assert.deepEqual(await sums(store, [202601, 202602]), expected);
    // The interval's usage records keep the first journal's too.
    const records = await store.read((r) =>
      r.listUsageRecords('COMP-1', { from: 0, to: Number.MAX_SAFE_INTEGER, limit: 100 }),
    );
    assert.deepEqual(
      records.filter((record) => record.partitionId === 'slappart0').map((record) => record.quantity),
      [3, 100],
    );
    assert.deepEqual(
      (await store.read((r) => r.listChargedUsageJournals({ owner: 'alice', period: 202602 }))).map(
        (j) => j.documentHash,
      ),
      [usageDocumentHash(first)],
    );

    // alice's tree goes at T0 + 4h, bob's comes at T0 + 5h on the same partition.
    clock.set(T0 + 4 * HOUR);
    await services.reportInstanceState({
      caller: node1,
      instanceGuid: 'SOFTINST-1',
      reportedState: 'destroyed',
    });
    clock.set(T0 + 5 * HOUR);
    const bobs = await opened.request(bob, 'bobtree', SR);
    assert.deepEqual([bobs.computeNodeId, bobs.partitionId], ['COMP-1', 'slappart0']);
    clock.set(T0 + 6 * HOUR);
    await report(journal(T0 + 3 * HOUR, T0 + 6 * HOUR, [['slappart0', CPU, '30']]));
    assert.deepEqual(await sums(store, [202602]), [
      [202602, 'alice', 'tree', CPU, 11_000_000n],
      [202602, 'alice', 'tree', MEMORY, 100_000_000n],
      [202602, 'bob', 'bobtree', CPU, 10_000_000n],
    ]);
    // Pieces starting in a range of the period only.
    assert.deepEqual(
      (await store.read((r) => r.sumUsageCharges({ period: 202602, from: FEB_1, to: T0 + 3 * HOUR }))).map(
        (s) => [s.owner, s.resource, s.quantityMicro],
      ),
      [
        ['alice', CPU, 1_000_000n],
        ['alice', MEMORY, 100_000_000n],
      ],
    );
    assert.deepEqual(
      (await store.read((r) => r.listTreeAllocations({ from: T0 + 4 * HOUR, to: T0 + 10 * HOUR }))).map(
        (a) => [
          a.owner,
          a.instanceTree,
          a.allocatedAt - T0,
          a.releasedAt === null ? null : a.releasedAt - T0,
        ],
      ),
      [['bob', 'bobtree', 5 * HOUR, null]],
    );
    assert.equal(
      (await store.read((r) => r.listTreeAllocations({ from: T0, to: T0 + 10 * HOUR }))).length,
      2,
    );
  } finally {
    await store.close();
  }
});

test('bad reports store no journal and charge nothing', async () => {
  const opened = await world();
  const { services, clock, store } = opened;
  try {
    clock.set(T0 + 10 * HOUR);
    const good: [string, string, string] = ['slappart0', CPU, '1'];
    const refused: [string, string, string][] = [
      ['stop before start', journal(T0 + 2 * HOUR, T0 + HOUR, [good]), 'SLAP_ERR_USAGE_REPORT_INVALID'],
      ['negative', journal(T0, T0 + HOUR, [good, ['slappart1', CPU, '-1']]), 'SLAP_ERR_USAGE_REPORT_INVALID'],
      ['future', journal(T0, T0 + 11 * HOUR, [good]), 'SLAP_ERR_USAGE_REPORT_INVALID'],
      [
        'unknown partition',
        journal(T0, T0 + HOUR, [good, ['slappart7', CPU, '1']]),
        'SLAP_ERR_PARTITION_NOT_FOUND',
      ],
      [
        'malformed',
        journal(T0, T0 + HOUR, [good]).replace('</journal>', ''),
        'SLAP_ERR_USAGE_REPORT_INVALID',
      ],
    ];
    for (const [name, usageXml, code] of refused)
      await assert.rejects(
        services.reportComputeNodeUsage({ caller: node1, computeNodeId: 'COMP-1', usageXml }),
        (error: { code?: string; status?: number }) =>
          error.code === code && (error.status ?? 0) >= 400 && (error.status ?? 0) < 500,
        name,
      );
    assert.deepEqual(await sums(store, [202601, 202602]), []);
    // The good movement alone goes through (the refusals left no interval behind).
    await services.reportComputeNodeUsage({
      caller: node1,
      computeNodeId: 'COMP-1',
      usageXml: journal(T0, T0 + HOUR, [good]),
    });
    assert.deepEqual(await sums(store, [202601]), [[202601, 'alice', 'tree', CPU, 1_000_000n]]);
  } finally {
    await store.close();
  }
});

async function selfSigned(): Promise<{ key: ReturnType<typeof createPrivateKey>; certificatePem: string }> {
  const keys = await generateEcKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=COMP-1, O=compute_node',
    notBefore: new Date(Date.UTC(2025, 0, 1)),
    notAfter: new Date(Date.UTC(2030, 0, 1)),
    signingAlgorithm: EC_P256_SHA256,
    keys,
  });
  return {
    key: createPrivateKey(await privateKeyPem(keys.privateKey)),
    certificatePem: certificate.toString('pem'),
  };
}

test("master mode: a sealed journal is stored with its seal when signed with the node's certificate, else refused", async () => {
  const clock = fixedClock(T0);
  const authority = await openTestCertificateAuthority(clock);
  const opened = await world(authority.ca);
  const { services, store } = opened;
  try {
    opened.clock.set(T0 + 10 * HOUR);
    const certify = async (node: string) => {
      const issued = await authority.ca.issueKeyAndCertificate({
        kind: 'compute_node',
        id: node,
        validityDays: 30,
      });
      await store.write((r) =>
        r.insertCertificate({
          serial: issued.serial,
          kind: 'compute_node',
          subject: node,
          notAfter: issued.notAfter,
          revokedAt: null,
          createdAt: T0,
        }),
      );
      return { key: createPrivateKey(issued.keyPem), certificatePem: issued.certificatePem };
    };
    const own = await certify('COMP-1');
    const other = await certify('COMP-2');
    const report = (usageXml: string) =>
      services.reportComputeNodeUsage({ caller: node1, computeNodeId: 'COMP-1', usageXml });
    const hourly = (hour: number) =>
      journal(T0 + hour * HOUR, T0 + (hour + 1) * HOUR, [['slappart0', CPU, '1']]);
    const first = sealUsageJournal(hourly(0), { sequence: 1, previous: '', ...own });
    await report(first);

    const refusals: [string, string][] = [
      [
        'altered after sealing',
        sealUsageJournal(hourly(1), { sequence: 2, previous: usageDocumentHash(first), ...own }).replace(
          '<quantity>1<',
          '<quantity>9<',
        ),
      ],
      ["another node's certificate", sealUsageJournal(hourly(1), { sequence: 2, previous: '', ...other })],
      [
        'a certificate this master did not issue',
        sealUsageJournal(hourly(1), { sequence: 2, previous: '', ...(await selfSigned()) }),
      ],
      ['a chain without signature', `<?slapos-usage-chain sequence="2" previous=""?>\n${hourly(1)}`],
    ];
    for (const [name, usageXml] of refusals)
      await assert.rejects(report(usageXml), { code: 'SLAP_ERR_USAGE_REPORT_INVALID', status: 400 }, name);

    // A break in the chain (sequence 5, wrong previous) is stored: the verifier reports it.
    const broken = sealUsageJournal(hourly(2), { sequence: 5, previous: 'f'.repeat(64), ...own });
    await report(broken);
    const journals = await store.read((r) => r.listUsageJournals({ computeNodeId: 'COMP-1', limit: 10 }));
    assert.deepEqual(
      journals.map((j) => [
        j.seal?.sequence,
        j.seal?.previousHash,
        j.documentHash,
        j.document === (j.seal?.sequence === 1 ? first : broken),
      ]),
      [
        [1, '', usageDocumentHash(first), true],
        [5, 'f'.repeat(64), usageDocumentHash(broken), true],
      ],
    );
    assert.equal(
      new X509Certificate(journals[0]?.seal?.certificatePem ?? '').fingerprint256,
      new X509Certificate(own.certificatePem).fingerprint256,
    );
    assert.deepEqual(
      (
        await store.read((r) => r.listUsageJournals({ computeNodeId: 'COMP-1', fromSequence: 2, limit: 10 }))
      ).map((j) => j.seal?.sequence),
      [5],
    );
    assert.deepEqual(await sums(store, [202601, 202602]), [
      [202601, 'alice', 'tree', CPU, 1_000_000n],
      [202602, 'alice', 'tree', CPU, 1_000_000n],
    ]);

    // Its certificate revoked, the node's journals are refused.
    await store.write((r) =>
      r.revokeCertificates({ kind: 'compute_node', subject: 'COMP-1', now: T0 + HOUR }),
    );
    await assert.rejects(
      report(sealUsageJournal(hourly(3), { sequence: 6, previous: usageDocumentHash(broken), ...own })),
      {
        code: 'SLAP_ERR_USAGE_REPORT_INVALID',
      },
    );
  } finally {
    await store.close();
    await authority.close();
  }
});

test('proxy mode: a sealed journal is checked against its own certificate and stored with its seal', async () => {
  const { store } = await openTestStore();
  try {
    const clock = fixedClock(T0);
    const services = createMasterServices(
      createServiceContext({ store, clock, logger: silentLogger(), authorizer: proxyModeAuthorizer }),
    );
    await services.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: 'COMP-1',
        address: null,
        netmask: null,
        partitions: [{ reference: 'slappart0', addresses: [] }],
      },
    });
    clock.set(T0 + 2 * HOUR);
    const signer = await selfSigned();
    const sealed = sealUsageJournal(journal(T0, T0 + HOUR, [['slappart0', CPU, '1']]), {
      sequence: 1,
      previous: '',
      ...signer,
    });
    const report = (usageXml: string) =>
      services.reportComputeNodeUsage({ caller: LOCAL_CALLER, computeNodeId: 'COMP-1', usageXml });
    await assert.rejects(report(sealed.replace('<quantity>1<', '<quantity>2<')), {
      code: 'SLAP_ERR_USAGE_REPORT_INVALID',
    });
    await report(sealed);
    assert.deepEqual(
      (await store.read((r) => r.listUsageJournals({ computeNodeId: 'COMP-1', limit: 10 }))).map(
        (j) => (j.seal?.signature.length ?? 0) > 0,
      ),
      [true],
    );
  } finally {
    await store.close();
  }
});

test('property: journals of hostile texts, in many batches, are stored exactly as sent and charged in full', async () => {
  const { store } = await openTestStore();
  try {
    const clock = fixedClock(T0);
    const services = createMasterServices(
      createServiceContext({ store, clock, logger: silentLogger(), authorizer: proxyModeAuthorizer }),
    );
    await services.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: 'COMP-1',
        address: null,
        netmask: null,
        partitions: [{ reference: 'slappart0', addresses: [] }],
      },
    });
    await services.supplySoftware({
      caller: LOCAL_CALLER,
      computeNodeId: 'COMP-1',
      url: SR,
      state: 'available',
    });
    await services.requestInstance({
      caller: LOCAL_CALLER,
      title: 'tree',
      softwareRelease: SR,
      softwareType: '',
      parameters: {},
      shared: false,
      state: 'started',
      sla: { computer_guid: 'COMP-1' },
    });
    clock.set(T0 + 100 * HOUR);
    const random = seededRandom(151);
    const text = () =>
      [...hostileString(random, 6)]
        .filter((char) => isXmlCompatible(char))
        .slice(0, 200)
        .join('');
    const signer = await selfSigned();
    let previous = '';
    const sent: string[] = [];
    let expected = 0n;
    for (let hour = 0; hour < 8; hour++) {
      // Up to 700 distinct resources: several batches of every insert.
      const movements = Array.from({ length: 1 + Math.floor(random() * 700) }, (_, i) => {
        const quantity = String(i % 7);
        expected += BigInt(quantity) * 1_000_000n;
        return [`${i}:${text()}`, quantity] as const;
      });
      const xml =
        `<journal><transaction><start_date>${journalDate(T0 + hour * HOUR)}</start_date>` +
        `<stop_date>${journalDate(T0 + (hour + 1) * HOUR)}</stop_date>` +
        movements
          .map(
            ([resource, quantity]) =>
              `<movement><resource>${escapeXmlText(resource)}</resource><title>${escapeXmlText(text())}</title>` +
              `<reference>slappart0</reference><quantity>${quantity}</quantity></movement>`,
          )
          .join('') +
        '</transaction></journal>';
      const sealed = sealUsageJournal(xml, { sequence: hour + 1, previous, ...signer });
      previous = usageDocumentHash(sealed);
      sent.push(sealed);
      await services.reportComputeNodeUsage({
        caller: LOCAL_CALLER,
        computeNodeId: 'COMP-1',
        usageXml: sealed,
      });
    }
    const stored = await store.read((r) => r.listUsageJournals({ computeNodeId: 'COMP-1', limit: 100 }));
    assert.deepEqual(
      stored.map((j) => j.document),
      sent,
    );
    assert.deepEqual(
      stored.map((j) => j.documentHash),
      sent.map(usageDocumentHash),
    );
    let total = 0n;
    for (const period of [202601, 202602])
      for (const sum of await store.read((r) => r.sumUsageCharges({ period }))) total += sum.quantityMicro;
    assert.equal(total, expected);
  } finally {
    await store.close();
  }
});
