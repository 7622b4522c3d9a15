/**
 * Backups and resilient trees over real HTTPS in master mode (slapos-extensions.json): a resilient
 * request over 3 nodes, each node's backup sync with its own certificate (another node's gets
 * nothing of the tree), the owner's backup, backup list, restore and takeover routes (another user
 * gets nothing), and bad bodies answered 400 with the API error body.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyAndCertificateRequest } from '../lib/certificate-request.ts';
import { apiResponseProblem } from '../testing/api-schema.ts';
import {
  postTls,
  startTestMasterMode,
  type TestMasterMode,
  type TlsCallOptions,
} from '../testing/master-mode.ts';
import { hostileString, LINE_TERMINATORS, seededRandom } from '../testing/hostile-strings.ts';
import { partitionReport } from '../testing/backup-sync-report.ts';

const SR = 'https://example.com/software/db/software.cfg';
const PEM = '-----BEGIN CERTIFICATE-----\nTk9ERQ==\n-----END CERTIFICATE-----\n';
const BACKUP = '20261207T203015123Z-a1b2';
let master: TestMasterMode;
let alice: TlsCallOptions;
let bob: TlsCallOptions;
const nodes: { id: string; tls: TlsCallOptions }[] = [];

async function call(path: string, body: unknown, as: TlsCallOptions, status = 200) {
  const response = await postTls(master.url, path, body, as);
  assert.equal(response.status, status, `${path}: ${response.text}`);
  assert.equal(apiResponseProblem(path, status, response.body), undefined, `${path}: ${response.text}`);
  return response.body as Record<string, unknown>;
}

async function registerNode(title: string): Promise<{ id: string; tls: TlsCallOptions }> {
  const { token } = (await call('/slapos.post.ext.registration_token', {}, alice)) as { token: string };
  const { keyPem, csrPem } = await createKeyAndCertificateRequest(title);
  const node = (await call(
    '/slapos.post.ext.compute_node_registration',
    { title, certificate_request: csrPem },
    { ca: master.caPem, token },
  )) as { computer_guid: string; certificate: string };
  return { id: node.computer_guid, tls: { ca: master.caPem, key: keyPem, cert: node.certificate } };
}

interface Order {
  partition_id: string;
  instance_guid: string;
  repository: string;
  password: string;
  role: string;
  epoch: number;
  targets: { computer_guid: string }[];
  writers: string[];
  backup_requested_at: number | null;
  restore_request: { request_id: string; backup_id: string | null } | null;
}

async function sync(index: number, partitions: unknown[] = []): Promise<Order[]> {
  const node = nodes[index];
  assert.ok(node);
  const answer = await call(
    '/slapos.post.ext.backup_sync',
    {
      computer_guid: node.id,
      repository: { url: `https://127.0.0.${index + 1}:8700`, certificate: PEM },
      partition_list: partitions,
    },
    node.tls,
  );
  assert.equal(answer.heartbeat_interval, 5);
  return answer.partition_list as Order[];
}

before(async () => {
  master = await startTestMasterMode();
  alice = { ca: master.caPem, token: (await master.admin.addUser({ name: 'alice', admin: false })).token };
  bob = { ca: master.caPem, token: (await master.admin.addUser({ name: 'bob', admin: false })).token };
  for (const title of ['one', 'two', 'three', 'four']) {
    const node = await registerNode(title);
    nodes.push(node);
    await call(
      '/slapos.put.v0.compute_node_format',
      {
        computer_guid: node.id,
        compute_partition_list: [
          { partition_id: 'slappart0', ip_list: [] },
          { partition_id: 'slappart1', ip_list: [] },
        ],
      },
      node.tls,
    );
    await call(
      '/slapos.post.v0.software_installation',
      { software_release_uri: SR, computer_guid: node.id },
      alice,
    );
  }
});

after(async () => {
  await master.close();
});

test('a resilient tree over HTTPS: placement, sync per node, backup, list, restore, takeover, fencing', async () => {
  const [one, two, three] = nodes.map((node) => node.id);
  const requested = await call(
    '/slapos.post.v0.software_instance',
    {
      title: 'X',
      software_release_uri: SR,
      software_type: 'db-resilient',
      parameters: {},
      shared: false,
      state: 'started',
      sla_parameters: { computer_guid: one ?? '', resilient: 'true', clones: '2' },
    },
    alice,
  );
  assert.equal(requested.software_type, 'db');
  const x = requested.instance_guid as string;

  const main = await sync(0, [partitionReport('slappart0', x)]);
  assert.equal(main.length, 1);
  const order = main[0] as Order;
  assert.equal(order.role, 'main');
  assert.match(order.repository, /^tree-[0-9]+$/);
  assert.match(order.password, /^[A-Za-z0-9_-]{43}$/);
  const cloneOrders = [await sync(1), await sync(2)].map((list) => {
    assert.equal(list.length, 1);
    return list[0] as Order;
  });
  for (const clone of cloneOrders) {
    assert.equal(clone.role, 'clone');
    assert.equal(clone.password, order.password);
    assert.deepEqual(clone.writers, [one]);
    assert.deepEqual(clone.targets, []);
    assert.equal(clone.backup_requested_at, null);
  }
  assert.deepEqual(
    (await sync(0, [partitionReport('slappart0', x)]))[0]?.targets.map((target) => target.computer_guid),
    [two, three],
  );
  // The fourth node holds nothing of the tree: it learns nothing of it, whatever it says.
  assert.deepEqual(
    await sync(3, [
      partitionReport('slappart0', x),
      partitionReport('slappart0', cloneOrders[0]?.instance_guid ?? ''),
    ]),
    [],
  );
  // Nor may it sync as another node.
  const foreign = await postTls(
    master.url,
    '/slapos.post.ext.backup_sync',
    { computer_guid: one, repository: null, partition_list: [] },
    nodes[3]?.tls ?? alice,
  );
  assert.equal(foreign.status, 403);
  assert.ok(!foreign.text.includes(order.password));
  assert.ok(!foreign.text.includes('tree-'));
  // Users do not sync.
  await call(
    '/slapos.post.ext.backup_sync',
    { computer_guid: one, repository: null, partition_list: [] },
    alice,
    403,
  );

  // The owner asks for a backup: the main's node is told, the clones' are not.
  const asked = await call('/slapos.post.ext.instance_backup', { title: 'X' }, alice);
  assert.equal(typeof asked.requested_at, 'number');
  assert.equal(
    (await sync(0, [partitionReport('slappart0', x)]))[0]?.backup_requested_at,
    asked.requested_at,
  );
  assert.equal((await sync(1))[0]?.backup_requested_at, null);
  // What the nodes hold, newest first, with where.
  await sync(0, [
    partitionReport('slappart0', x, {
      last_backup: { backup_id: BACKUP, time: 1733600000.123 },
      backup_list: [{ backup_id: BACKUP, time: 1733600000.123 }],
    }),
  ]);
  await sync(1, [
    partitionReport('slappart0', cloneOrders[0]?.instance_guid ?? '', {
      restored: { backup_id: BACKUP, time: 1733600000.123 },
      backup_list: [
        { backup_id: '20261207T203000000Z-0000', time: 1733599985 },
        { backup_id: BACKUP, time: 1733600000.123 },
      ],
    }),
  ]);
  assert.deepEqual(await call('/slapos.get.ext.instance_backup_list', { title: 'X' }, alice), {
    backup_list: [
      { backup_id: BACKUP, time: 1733600000.123, computer_guid_list: [one, two].sort() },
      { backup_id: '20261207T203000000Z-0000', time: 1733599985, computer_guid_list: [two] },
    ],
    restore: null,
  });
  // A restore of an unknown backup is refused; of a listed one, the main's node is told.
  await call(
    '/slapos.post.ext.instance_restore',
    { title: 'X', backup_id: '20990101T000000000Z-ffff' },
    alice,
    409,
  );
  const { request_id: requestId } = (await call(
    '/slapos.post.ext.instance_restore',
    { title: 'X', backup_id: BACKUP },
    alice,
  )) as { request_id: string };
  assert.deepEqual((await sync(0, [partitionReport('slappart0', x)]))[0]?.restore_request, {
    request_id: requestId,
    backup_id: BACKUP,
    source: null,
  });
  assert.equal((await sync(1))[0]?.restore_request, null);
  const restoreOf = async (title: string) =>
    (await call('/slapos.get.ext.instance_backup_list', { title }, alice)).restore as Record<string, unknown>;
  assert.equal((await restoreOf('X')).state, 'pending');
  await sync(0, [
    partitionReport('slappart0', x, {
      restore_done: { request_id: requestId, ok: true, message: 'checked', restored_backup_id: BACKUP },
    }),
  ]);
  assert.equal((await sync(0, [partitionReport('slappart0', x)]))[0]?.restore_request, null);
  const done = await restoreOf('X');
  assert.deepEqual(
    [done.request_id, done.state, done.backup_id, done.restored_backup_id, done.source, done.message],
    [requestId, 'done', BACKUP, BACKUP, 'X', 'checked'],
  );
  assert.equal(typeof done.finished_at, 'number');

  // A restore into another tree: requested like X; the request and its status are Y's.
  const into = (await call(
    '/slapos.post.ext.instance_restore',
    { title: 'X', backup_id: null, into: 'Y' },
    alice,
  )) as { request_id: string };
  const pending = await restoreOf('Y');
  assert.deepEqual(
    [pending.request_id, pending.state, pending.backup_id, pending.source],
    [into.request_id, 'pending', null, 'X'],
  );
  assert.equal((await restoreOf('X')).request_id, requestId, "X's last restore is untouched");
  for (const refused of ['X', 'X (clone 1)'])
    await call('/slapos.post.ext.instance_restore', { title: 'X', into: refused }, alice, 409);

  // Bob cannot touch alice's tree.
  for (const path of [
    '/slapos.post.ext.instance_takeover',
    '/slapos.post.ext.instance_backup',
    '/slapos.get.ext.instance_backup_list',
    '/slapos.post.ext.instance_restore',
  ])
    await call(path, { title: 'X' }, bob, 403);

  // Takeover: the clone on node two (restored) takes over; node one's instance is fenced.
  const taken = await call('/slapos.post.ext.instance_takeover', { title: 'X', clone: null }, alice);
  assert.deepEqual(taken, { title: 'X', compute_node_id: two, partition_id: 'slappart0', epoch: 1 });
  const read = await call('/slapos.get.v0.software_instance', { instance_guid: x }, alice);
  assert.equal(read.computer_guid, two);
  const fenced = await sync(0, [partitionReport('slappart0', x)]);
  assert.deepEqual(
    fenced.map((item) => [item.instance_guid, item.role, item.epoch, item.writers]),
    [[cloneOrders[0]?.instance_guid, 'fenced', 1, [two]]],
  );
  assert.equal((await sync(1))[0]?.role, 'main');
  await sync(0, [
    partitionReport('slappart0', cloneOrders[0]?.instance_guid ?? '', { services_stopped: true }),
  ]);
  assert.equal((await sync(0))[0]?.role, 'clone');
});

test('bad bodies are answered 400 with the API error body', async () => {
  const node = nodes[0];
  assert.ok(node);
  const valid = {
    computer_guid: node.id,
    repository: { url: 'https://127.0.0.1:8700', certificate: PEM },
    partition_list: [partitionReport('slappart0', 'SOFTINST-1')],
  };
  const withPartition = (fields: Record<string, unknown>) => ({
    ...valid,
    partition_list: [{ ...partitionReport('slappart0', 'SOFTINST-1'), ...fields }],
  });
  const bad: [string, unknown][] = [
    ['not an object', []],
    ['missing partition_list', { computer_guid: node.id, repository: null }],
    ['an extra property', { ...valid, extra: 1 }],
    ['http url', { ...valid, repository: { url: 'http://127.0.0.1:8700', certificate: PEM } }],
    [
      'url with a line break',
      { ...valid, repository: { url: 'https://127.0.0.1:8700/\n', certificate: PEM } },
    ],
    ['not a certificate', { ...valid, repository: { url: 'https://127.0.0.1:8700', certificate: 'x' } }],
    ['a backup id of another shape', withPartition({ last_backup: { backup_id: 'latest', time: 1 } })],
    ['a negative time', withPartition({ restored: { backup_id: BACKUP, time: -1 } })],
    ['a time as text', withPartition({ restored: { backup_id: BACKUP, time: '1' } })],
    ['declared as text', withPartition({ declared: 'true' })],
    [
      '201 backups',
      withPartition({ backup_list: Array.from({ length: 201 }, () => ({ backup_id: BACKUP, time: 1 })) }),
    ],
    ['a bad request id', withPartition({ restore_done: { request_id: 'x', ok: true, message: '' } })],
    ...[...LINE_TERMINATORS, '\0'].map((unit): [string, unknown] => [
      `partition id with ${JSON.stringify(unit)}`,
      withPartition({ partition_id: `slappart0${unit}` }),
    ]),
  ];
  for (const [what, body] of bad) {
    const response = await postTls(master.url, '/slapos.post.ext.backup_sync', body, node.tls);
    assert.equal(response.status, 400, `${what}: ${response.text}`);
    const error = response.body as { status: number; type: string; title: string };
    assert.deepEqual(Object.keys(error).sort(), ['status', 'title', 'type'], what);
    assert.equal(error.status, 400, what);
  }
  for (const [path, body] of [
    ['/slapos.post.ext.instance_takeover', { title: 'X', clone: 3 }],
    ['/slapos.post.ext.instance_takeover', { title: 'X\u2028' }],
    ['/slapos.post.ext.instance_backup', {}],
    ['/slapos.get.ext.instance_backup_list', { title: 'X', more: true }],
    ['/slapos.post.ext.instance_restore', { title: 'X', backup_id: 'yesterday' }],
    ['/slapos.post.ext.instance_restore', { title: 'X', into: 3 }],
    ['/slapos.post.ext.instance_restore', { title: 'X', into: ['Y'] }],
    ['/slapos.post.ext.instance_restore', { title: 'X', into: '' }],
    ['/slapos.post.ext.instance_restore', { title: 'X', into: 'y'.repeat(201) }],
    ['/slapos.post.ext.instance_restore', { title: 'X', into: 'Y\u2028' }],
    ['/slapos.post.ext.instance_restore', { title: 'X', into: 'Y\0' }],
  ] as const) {
    const response = await postTls(master.url, path, body, alice);
    assert.equal(response.status, 400, `${path} ${JSON.stringify(body)}: ${response.text}`);
  }
});

test('a hostile into (property): 400 or 409, or a target whose title round-trips exactly', async () => {
  const random = seededRandom(180);
  let created = 0;
  for (let run = 0; run < 200; run++) {
    const into = run < LINE_TERMINATORS.length ? `Y${LINE_TERMINATORS[run] ?? ''}` : hostileString(random, 6);
    const response = await postTls(
      master.url,
      '/slapos.post.ext.instance_restore',
      { title: 'X', into },
      alice,
    );
    assert.ok([200, 400, 409].includes(response.status), `${JSON.stringify(into)}: ${response.text}`);
    assert.equal(
      apiResponseProblem('/slapos.post.ext.instance_restore', response.status, response.body),
      undefined,
    );
    if (response.status !== 200) continue;
    created++;
    const { request_id: requestId } = response.body as { request_id: string };
    const listed = await call('/slapos.get.ext.instance_backup_list', { title: into }, alice);
    const restore = listed.restore as { request_id: string; source: string };
    assert.equal(restore.request_id, requestId, JSON.stringify(into));
    assert.equal(restore.source, 'X');
  }
  assert.ok(created > 0);
});
