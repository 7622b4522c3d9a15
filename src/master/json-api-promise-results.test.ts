/**
 * Promise results (our extension, slapos-extensions.json): a node reports the latest result of each
 * promise of an instance, anyone allowed to read the instance reads them back; storing them is a
 * report, not a change (no timestamp, no revision bump). Over real HTTP, every answer checked against
 * the contract.
 */
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import assert from 'node:assert/strict';
import { fixedClock } from '../core/clock.ts';
import { callApi, formatTestNode, postJson, startTestMaster, type TestMaster } from '../testing/master.ts';
import { MAX_PROMISE_RESULTS_JSON_BYTES } from '../api/index.ts';
import { JsonMasterClient } from '../client/master-client.ts';
import type { PromiseResult } from '../client/types.ts';

const PUT = '/slapos.put.ext.software_instance_promise_result';
const GET = '/slapos.get.ext.software_instance_promise_result';
const SNAPSHOT = '/slapos.get.ext.compute_node_snapshot';
const WATCH = '/slapos.watch.ext.compute_node_revision';
const SR = 'https://example.com/sr/software.cfg';
const NODE = 'COMP-P';

interface Env {
  master: TestMaster;
  client: JsonMasterClient;
  clock: ReturnType<typeof fixedClock>;
}

async function withMaster(work: (env: Env) => Promise<void>): Promise<void> {
  const clock = fixedClock(1_700_000_000.5);
  const master = await startTestMaster({ clock, computerId: NODE });
  const client = new JsonMasterClient({ masterUrl: master.url });
  try {
    await formatTestNode(master.url, { computerGuid: NODE, partitions: 2 });
    await work({ master, client, clock });
  } finally {
    await client.close();
    await master.close();
  }
}

const RESULTS: PromiseResult[] = [
  {
    name: 'apache',
    status: 'pass',
    message: 'socket connection OK 127.0.0.1:8080',
    date: '2023-11-14T22:13:20Z',
  },
  {
    name: 'backup',
    status: 'fail',
    message: 'Error: last backup is 3 days old\nsee var/log/backup.log',
    date: '2023-11-14T22:13:21.250+01:00',
  },
];

/** The partition's timestamp and marker in the snapshot, and the node's revision. */
async function changeSignals(url: string): Promise<unknown> {
  const snapshot = (await callApi(url, SNAPSHOT, { computer_guid: NODE })).body as {
    revision: number;
    compute_partition_list: { timestamp: string; marker: string }[];
  };
  const watch = (await callApi(url, WATCH, { computer_guid: NODE, after_revision: 0, timeout_ms: 0 }))
    .body as {
    revision: number;
  };
  return {
    revision: snapshot.revision,
    watched: watch.revision,
    partitions: snapshot.compute_partition_list.map((p) => [p.timestamp, p.marker]),
  };
}

test('promise results are stored, read back and replaced; no timestamp or revision bump', async () => {
  await withMaster(async ({ master, client, clock }) => {
    const instance = await client.requestInstance({ title: 'web', softwareReleaseUri: SR });
    const guid = instance.instance_guid;
    const never = await callApi(master.url, GET, { instance_guid: guid });
    assert.equal(never.status, 200);
    assert.deepEqual(never.body, { instance_guid: guid, result_list: [], reported_at: null });

    const before = await changeSignals(master.url);
    assert.deepEqual(before, { revision: 2, watched: 2, partitions: [['1700000000.5', '1700000000.5']] });
    const v0Before = (await callApi(master.url, '/slapos.get.v0.software_instance', { instance_guid: guid }))
      .body;
    clock.advance(10);
    const stored = await callApi(master.url, PUT, { instance_guid: guid, result_list: RESULTS });
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body, { type: 'success', title: 'Updated' });
    const read = await callApi(master.url, GET, { instance_guid: guid });
    assert.deepEqual(read.body, {
      instance_guid: guid,
      result_list: RESULTS,
      reported_at: new Date(1_700_000_010_500).toISOString(),
    });
    assert.deepEqual(await changeSignals(master.url), before, 'a report is not a change');
    // The v0 answers are unchanged (callApi checked them against the v0 schema, which forbids extra fields).
    const v0After = (await callApi(master.url, '/slapos.get.v0.software_instance', { instance_guid: guid }))
      .body;
    assert.deepEqual(v0After, v0Before);

    clock.advance(5);
    const replaced = await client.reportPromiseResults({ instanceGuid: guid, results: [] });
    assert.deepEqual(replaced, { type: 'success', title: 'Updated' });
    assert.deepEqual(await client.getPromiseResults(guid), {
      instance_guid: guid,
      result_list: [],
      reported_at: new Date(1_700_000_015_500).toISOString(),
    });
    assert.deepEqual(await changeSignals(master.url), before);
  });
});

test('unknown, malformed and shared instances get the JSON API v0 answers', async () => {
  await withMaster(async ({ master, client }) => {
    for (const path of [PUT, GET]) {
      const body = path === PUT ? { result_list: RESULTS } : {};
      const unknown = await callApi(master.url, path, { instance_guid: 'nope______0', ...body });
      assert.deepEqual(unknown.body, {
        status: 403,
        type: 'Forbidden',
        title: 'No software instance nope______0 found.',
      });
      // The same answer as a v0 read of that instance.
      const v0 = await callApi(master.url, '/slapos.get.v0.software_instance', {
        instance_guid: 'nope______0',
      });
      assert.deepEqual(unknown.body, v0.body);
      const malformed = await callApi(master.url, path, { instance_guid: 'no-separator', ...body });
      assert.deepEqual(malformed.body, {
        status: 403,
        type: 'Forbidden',
        title: 'instance_guid no-separator not handled.',
      });
    }
    await client.requestInstance({ title: 'host', softwareReleaseUri: SR });
    const shared = await client.requestInstance({ title: 'front', softwareReleaseUri: SR, shared: true });
    const refused = await callApi(master.url, PUT, {
      instance_guid: shared.instance_guid,
      result_list: RESULTS,
    });
    assert.deepEqual(refused.body, { status: 403, type: 'Forbidden', title: 'NotImplemented' });
    const none = await callApi(master.url, GET, { instance_guid: shared.instance_guid });
    assert.deepEqual(none.body, { instance_guid: shared.instance_guid, result_list: [], reported_at: null });
  });
});

test('bad bodies are 400s with the reason, and nothing is stored', async () => {
  await withMaster(async ({ master, client }) => {
    const guid = (await client.requestInstance({ title: 'web', softwareReleaseUri: SR })).instance_guid;
    const result = RESULTS[0];
    const bad: [string, unknown][] = [
      ['no list', { instance_guid: guid }],
      ['no guid', { result_list: [] }],
      ['an extra field', { instance_guid: guid, result_list: [], extra: 1 }],
      ['a list that is not one', { instance_guid: guid, result_list: {} }],
      ['201 entries', { instance_guid: guid, result_list: Array.from({ length: 201 }, () => result) }],
      ['an extra field in an entry', { instance_guid: guid, result_list: [{ ...result, extra: 1 }] }],
      ['a missing date', { instance_guid: guid, result_list: [{ ...result, date: undefined }] }],
      ['an unknown status', { instance_guid: guid, result_list: [{ ...result, status: 'ok' }] }],
      ['an empty name', { instance_guid: guid, result_list: [{ ...result, name: '' }] }],
      [
        'a name of 256 characters',
        { instance_guid: guid, result_list: [{ ...result, name: 'a'.repeat(256) }] },
      ],
      ['a name with a newline', { instance_guid: guid, result_list: [{ ...result, name: 'a\nb' }] }],
      [
        'a message of 4097 characters',
        { instance_guid: guid, result_list: [{ ...result, message: 'm'.repeat(4097) }] },
      ],
      ['a message with NUL', { instance_guid: guid, result_list: [{ ...result, message: 'a\u0000b' }] }],
      [
        'a date without time zone',
        { instance_guid: guid, result_list: [{ ...result, date: '2023-11-14T22:13:20' }] },
      ],
      [
        'a date that is not one',
        { instance_guid: guid, result_list: [{ ...result, date: '2023-13-40T22:13:20Z' }] },
      ],
      ['a date as a number', { instance_guid: guid, result_list: [{ ...result, date: 1_700_000_000 }] }],
    ];
    for (const [what, body] of bad) {
      const answer = await callApi(master.url, PUT, body);
      assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
      assert.equal((answer.body as { type: string }).type, 'Bad Request');
    }
    const tooLong = await callApi(master.url, PUT, {
      instance_guid: guid,
      result_list: [{ ...result, message: 'm'.repeat(4097) }],
    });
    assert.match(
      (tooLong.body as { title: string }).title,
      /message must NOT have more than 4096 characters/,
    );
    assert.equal((await callApi(master.url, GET, {})).status, 400);
    assert.deepEqual((await client.getPromiseResults(guid))?.result_list, []);

    // At the bounds: accepted.
    const atBounds = Array.from({ length: 200 }, (_, index) => ({
      name: `${index}`.padStart(255, 'p'),
      status: 'pass',
      message: 'é'.repeat(4096),
      date: '2023-11-14T22:13:20Z',
    }));
    // The list as stored JSON: at most MAX_PROMISE_RESULTS_JSON_BYTES (28 entries of 8.5 kB fit).
    const accepted = await postJson(master.url, PUT, {
      instance_guid: guid,
      result_list: atBounds.slice(0, 28),
    });
    assert.equal(accepted.status, 200, accepted.text);
    assert.ok(Buffer.byteLength(JSON.stringify(atBounds.slice(0, 28))) <= MAX_PROMISE_RESULTS_JSON_BYTES);
    const overCap = atBounds.slice(0, 32);
    assert.ok(Buffer.byteLength(JSON.stringify(overCap)) > MAX_PROMISE_RESULTS_JSON_BYTES);
    const refused = await callApi(master.url, PUT, { instance_guid: guid, result_list: overCap });
    assert.equal(refused.status, 413, JSON.stringify(refused.body));
    assert.match((refused.body as { title: string }).title, /at most 262144 are/);
    assert.equal((await client.getPromiseResults(guid))?.result_list.length, 28, 'unchanged');
    const many = await callApi(master.url, PUT, {
      instance_guid: guid,
      result_list: atBounds.map((entry) => ({ ...entry, message: 'ok' })),
    });
    assert.equal(many.status, 200);
    assert.equal((await client.getPromiseResults(guid))?.result_list.length, 200);
  });
});

test('the results go with the instance: a destroyed instance requested again starts without', async () => {
  await withMaster(async ({ master, client }) => {
    const guid = (await client.requestInstance({ title: 'web', softwareReleaseUri: SR })).instance_guid;
    await client.reportPromiseResults({ instanceGuid: guid, results: RESULTS });
    await client.requestInstance({ title: 'web', softwareReleaseUri: SR, state: 'destroyed' });
    await client.reportInstanceState({ instanceGuid: guid, state: 'destroyed' });
    await rejectsNotFound(client, guid);
    const db = new BetterSqlite3(master.databasePath, { readonly: true });
    try {
      const row = db.prepare('SELECT count(*) AS n FROM instance_promise_result').get() as { n: number };
      assert.equal(row.n, 0, 'deleted with their instance');
    } finally {
      db.close();
    }
    await client.requestInstance({ title: 'web', softwareReleaseUri: SR });
    const answer = await callApi(master.url, GET, { instance_guid: guid });
    assert.deepEqual(answer.body, { instance_guid: guid, result_list: [], reported_at: null });
  });
});

async function rejectsNotFound(client: JsonMasterClient, guid: string): Promise<void> {
  await assert.rejects(client.getPromiseResults(guid), { code: 'SLAP_ERR_INSTANCE_NOT_FOUND' });
}
