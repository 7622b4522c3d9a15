/**
 * The instance pass deploys partitions in parallel (instance_concurrency slots), against a real
 * master, the real supervisor daemon and real services. Each test proves overlap by a rendezvous
 * that only parallel processing can meet: a partition waits for a file another one writes (with a
 * bounded wait, so that serial processing fails instead of hanging).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runSoftwarePass } from '../software/software-pass.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
  type NodeHarness,
} from '../../testing/node-passes.ts';
import { runInstancePass } from './instance-pass.ts';

let h: NodeHarness;
let rendezvous: string;

/** Shell: waits (up to about 30 s, then fails) until `condition` holds. */
function waitUntil(condition: string): string {
  return `i=0; until ${condition}; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.05; done`;
}

before(async () => {
  h = await startNodeHarness({ partitions: 4 });
  rendezvous = join(h.dir, 'rendezvous');
  await mkdir(rendezvous);
});

after(async () => {
  await h.close();
});

async function supplyAndBuild(...urls: string[]): Promise<void> {
  for (const url of urls) await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
  const software = await runSoftwarePass(h.config, { master: h.client });
  assert.equal(software.exitCode, 0);
}

test('two partitions deploy at the same time: each buildout waits for a file the other one writes', async () => {
  // Each instance writes its mark, then waits for a second one: met only if both run at once.
  const pair = await writeSoftwareRelease(h.dir, 'pair', {
    instance: [
      '[buildout]',
      'parts = meet',
      '',
      '[meet]',
      'recipe = plone.recipe.command',
      'stop-on-error = yes',
      `command = touch ${rendezvous}/pair-$\${slap-connection:partition-id}; ${waitUntil(`[ $(ls ${rendezvous} | grep -c ^pair-) -ge 2 ]`)}`,
      '',
    ].join('\n'),
  });
  await supplyAndBuild(pair);
  const ids = [
    (await h.client.requestInstance({ title: 'pair-a', softwareReleaseUri: pair })).compute_partition_id,
    (await h.client.requestInstance({ title: 'pair-b', softwareReleaseUri: pair })).compute_partition_id,
  ];

  const result = await runInstancePass(h.config, {
    master: h.client,
    supervisor: h.supervisor,
    concurrency: 2,
    onlyPartitions: ids,
  });
  assert.deepEqual(
    result.items.map((item) => [item.partitionId, item.outcome, item.error?.message]),
    ids.map((id) => [id, 'started', undefined]),
  );
  for (const title of ['pair-a', 'pair-b']) assert.equal(h.db.instance(title)?.reported_state, 'started');
});

test('a partition waiting for its promises holds no slot: with one slot, another deploys meanwhile', async () => {
  const ready = join(rendezvous, 'second-deployed');
  // Its promise passes only once the other partition has been deployed.
  const patient = await writeSoftwareRelease(h.dir, 'patient', {
    instance: helloInstance({ promise: JSON.stringify({ kind: 'command', command: `test -e ${ready}` }) }),
  });
  const marking = await writeSoftwareRelease(h.dir, 'marking', {
    instance: helloInstance({
      extraParts: 'mark',
      extra: [
        '[mark]',
        'recipe = plone.recipe.command',
        'stop-on-error = yes',
        `command = touch ${ready}`,
        '',
      ].join('\n'),
    }),
  });
  await supplyAndBuild(patient, marking);
  // Ids in the order the pass takes them: the patient one first.
  const waiting = await h.client.requestInstance({ title: 'patient', softwareReleaseUri: patient });
  const other = await h.client.requestInstance({ title: 'marking', softwareReleaseUri: marking });
  const ids = [waiting.compute_partition_id, other.compute_partition_id];
  assert.ok(ids[0] !== undefined && ids[1] !== undefined && ids[0] < ids[1]);

  const order: string[] = [];
  const result = await runInstancePass(h.config, {
    master: h.client,
    supervisor: h.supervisor,
    concurrency: 1,
    // Long enough for the other partition's deployment, short enough to fail a serial pass quickly.
    promiseGraceMs: 20_000,
    onlyPartitions: ids,
    onProgress: (event) => {
      if (event.type === 'partition' && (event.action === 'processing' || event.action === 'started'))
        order.push(`${event.partitionId} ${event.action}`);
    },
  });
  assert.deepEqual(
    result.items.map((item) => [item.partitionId, item.outcome, item.error?.message]),
    ids.map((id) => [id, 'started', undefined]),
  );
  assert.ok(
    order.indexOf(`${ids[1]} processing`) < order.indexOf(`${ids[0]} started`),
    `the second partition was deployed while the first one waited: ${order.join(', ')}`,
  );
});
