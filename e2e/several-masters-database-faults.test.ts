/**
 * Three masters behind haproxy on a PostgreSQL cluster of this test's own, under load (writers whose
 * acknowledgements are recorded, readers): the server is stopped (fast shutdown: the masters'
 * sessions are cut) and started again. Meanwhile every master, and haproxy, answers 503 with the API
 * error body (never a 500, a crash or haproxy's own page); afterwards the masters answer again by
 * themselves, and every acknowledged write is there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMasterClient } from '../src/client/master-api.ts';
import { startMasterCluster } from '../src/testing/master-cluster.ts';
import { apiContentTypeProblem, postJson, type JsonResponse } from '../src/testing/master.ts';
import { startPostgresCluster } from '../src/testing/postgres-cluster.ts';
import { startRecordedWriter } from '../src/testing/recorded-writes.ts';
import { shortTempDir } from '../src/testing/standalone.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const NODE = 'COMP-FAULTS';
const SR = 'https://example.invalid/faults.cfg';

/** Checks an answer of a master whose database is gone: 503 and the API error body, nothing leaked. */
function assertUnavailable(where: string, answer: JsonResponse): void {
  assert.equal(answer.status, 503, `${where}: ${answer.text}`);
  assert.equal(apiContentTypeProblem(answer), undefined, where);
  const body = answer.body as { status?: unknown; type?: unknown; title?: unknown };
  assert.equal(body.status, 503, `${where}: ${answer.text}`);
  assert.equal(typeof body.type, 'string', `${where}: ${answer.text}`);
  assert.equal(typeof body.title, 'string', `${where}: ${answer.text}`);
  assert.doesNotMatch(answer.text, /postgres(ql)?:\/\/|\n\s+at /, `${where}: a URI or a stack trace`);
}

test('PostgreSQL stopped under load: 503 with the API error body, masters reconnect by themselves, no acknowledged write lost', async (t) => {
  const postgres = await startPostgresCluster();
  const dir = await shortTempDir('mmf-');
  const cleanUp: (() => Promise<void>)[] = [
    () => rm(dir, { recursive: true, force: true }),
    () => postgres.remove(),
  ];
  const failed = async (error: unknown): Promise<never> => {
    for (const step of cleanUp) await step();
    throw error;
  };
  const cluster = await startMasterCluster({ dir, database: postgres.uri, computerId: NODE }).catch(failed);
  const client = createMasterClient({ api: 'json', masterUrl: cluster.url });
  cleanUp.unshift(
    () => client.close(),
    () => cluster.close(),
  );
  await client
    .formatComputeNode({
      computerGuid: NODE,
      partitions: Array.from({ length: 40 }, (_, index) => ({
        reference: `slappart${index}`,
        addresses: [{ address: `127.0.3.${index + 1}`, networkInterface: 'lo', netmask: '255.0.0.0' }],
      })),
    })
    .catch(failed);
  const readStatuses = new Map<number, number>();
  const readProblems: string[] = [];
  let reading = true;
  const reader = (async () => {
    while (reading) {
      let answer: JsonResponse;
      try {
        answer = await postJson(cluster.url, '/slapos.allDocs.v0.compute_node_instance_list', {
          computer_guid: NODE,
        });
      } catch (error) {
        readProblems.push(`no answer: ${String(error)}`);
        continue;
      }
      readStatuses.set(answer.status, (readStatuses.get(answer.status) ?? 0) + 1);
      if (answer.status !== 200)
        try {
          assertUnavailable('a read during the load', answer);
        } catch (problem) {
          readProblems.push(String(problem));
        }
      await sleep(5);
    }
  })();
  const writers = [0, 1].map((index) =>
    startRecordedWriter(client, {
      computerGuid: NODE,
      titles: 15,
      softwareReleaseUri: SR,
      prefix: `w${index}`,
    }),
  );
  try {
    await waitFor('writes acknowledged before the outage', () =>
      writers.every((writer) => writer.acknowledgements() >= 5),
    );

    await postgres.stop();
    const write = { title: 'during-the-outage', software_release_uri: SR, software_type: 'default' };
    for (const master of cluster.masters) {
      assertUnavailable(
        `${master.name}, a write`,
        await postJson(master.url, '/slapos.post.v0.software_instance', write),
      );
      assertUnavailable(
        `${master.name}, a read`,
        await postJson(master.url, '/slapos.get.v0.software_instance', { instance_guid: 'w0-0___root___0' }),
      );
    }
    assertUnavailable('haproxy', await postJson(cluster.url, '/slapos.post.v0.software_instance', write));
    assert.equal(cluster.running().length, 3, 'no master died');
    const states = await cluster.haproxy.serverStates();
    assert.ok(
      Object.values(states).every((state) => state.startsWith('UP')),
      `haproxy keeps the masters, whose process answers: ${JSON.stringify(states)}`,
    );
    const acknowledgedBefore = writers.map((writer) => writer.acknowledgements());

    await postgres.start();
    for (const master of cluster.masters)
      await waitFor(
        `${master.name} to answer again`,
        async () => (await postJson(master.url, '/slapos.post.v0.software_instance', write)).status === 200,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    await waitFor('writes acknowledged after the outage', () =>
      writers.every((writer, index) => writer.acknowledgements() >= (acknowledgedBefore[index] ?? 0) + 20),
    );
    reading = false;
    await reader;
    for (const writer of writers) await writer.stop();

    t.diagnostic(
      `reads by status ${JSON.stringify([...readStatuses])}; writes ${writers
        .map((w) => `${w.sent()} sent, failures ${JSON.stringify([...w.failures])}`)
        .join('; ')}`,
    );
    for (const master of cluster.masters) {
      const lines = master.process.lines;
      // The outage's 503s are logged (as failed requests); nothing else may have failed.
      const failed = lines.filter((line) => line.msg === 'request failed');
      assert.deepEqual(
        failed.filter(
          (line) => (line.err as { code?: unknown } | undefined)?.code !== 'SLAP_ERR_UNAVAILABLE',
        ),
        [],
        `${master.name} logged an internal error`,
      );
      assert.ok(!JSON.stringify(lines).includes('postgresql://'), `${master.name} logged the database URI`);
    }
    for (const writer of writers) {
      assert.deepEqual(
        [...writer.failures.keys()].filter((status) => status !== '503'),
        [],
        'a write failed otherwise than with 503',
      );
      await writer.assertAcknowledgedPresent(client);
    }
    assert.deepEqual(readProblems, []);
    assert.deepEqual(
      [...readStatuses.keys()].filter((status) => status !== 200 && status !== 503),
      [],
    );
    assert.equal(cluster.running().length, 3, 'no master died');
  } finally {
    reading = false;
    await reader;
    for (const writer of writers) await writer.stop();
    for (const step of cleanUp) await step();
  }
});
