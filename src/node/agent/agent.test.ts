/**
 * The node agent against a real master (with its change stream), the real supervisor daemon and
 * real services: woken by the master, not by a timer; failures retried with backoff without holding
 * the others; a restarted agent restarts nothing; the master away and back; the polling fallback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecFunction } from '../../buildout/recipe.ts';
import { SlapError } from '../../core/errors.ts';
import type { RequestedState } from '../../core/states.ts';
import { execFile } from '../../lib/exec.ts';
import { startMaster } from '../../master/server.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
  type NodeHarness,
} from '../../testing/node-passes.ts';
import { waitFor } from '../../testing/supervisor.ts';
import type { ProcessInfo } from '../supervisor/types.ts';
import { NodeAgent, type AgentMaster, type AgentStatus, type NodeAgentOptions } from './agent.ts';

let h: NodeHarness;
let hello: string;
let broken: string;
/** The master started again by the "master away" test (the harness closes only its first one). */
let restartedMaster: { close(): Promise<void> } | undefined;

before(async () => {
  h = await startNodeHarness({ partitions: 6 });
  hello = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
  broken = await writeSoftwareRelease(h.dir, 'broken', {
    instance: '[buildout]\nparts = x\n[x]\nrecipe = no.such:recipe\n',
  });
  for (const url of [hello, broken])
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
});

after(async () => {
  await restartedMaster?.close();
  await h.close();
});

/** An agent whose timers are all long: whatever happens quickly was woken by the change stream. */
function agent(options: Partial<NodeAgentOptions> = {}): NodeAgent {
  return new NodeAgent(h.config, {
    master: h.client,
    supervisor: h.supervisor,
    watchTimeoutMs: 40_000,
    anomalyIntervalMs: 600_000,
    reportIntervalMs: 3600_000,
    promiseGraceMs: 5_000,
    ...options,
  });
}

async function request(
  title: string,
  url: string,
  options: { parameters?: Record<string, unknown>; state?: RequestedState } = {},
): Promise<string> {
  const instance = await h.client.requestInstance({
    title,
    softwareReleaseUri: url,
    ...(options.parameters ? { parameters: options.parameters } : {}),
    ...(options.state ? { state: options.state } : {}),
  });
  return instance.compute_partition_id;
}

async function processesOf(partition: string): Promise<ProcessInfo[]> {
  return (await h.supervisor.status()).processes.filter((p) => p.group === partition);
}

async function answer(partition: string): Promise<string> {
  return waitFor(
    `${partition} answering`,
    async () => {
      try {
        const port = (await readFile(join(h.config.instanceRoot, partition, 'var', 'port'), 'utf8')).trim();
        const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
        return await response.text();
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 30_000 },
  );
}

function reported(title: string, state: string): Promise<true> {
  return waitFor(
    `${title} reported ${state}`,
    () => h.db.instance(title)?.reported_state === state || undefined,
    {
      timeoutMs: 30_000,
    },
  );
}

function partitionStatus(a: NodeAgent, id: string): AgentStatus['partitions'][number] | undefined {
  return a.status().partitions.find((p) => p.partitionId === id);
}

test('the agent builds, deploys and follows changes as the master announces them', async () => {
  // What each of the agent's watches answered: changed (woken by a commit) or not (its deadline).
  const watches: boolean[] = [];
  const master: AgentMaster = Object.create(h.client) as AgentMaster;
  master.watchComputeNode = async (input, options) => {
    const answer = await h.client.watchComputeNode(input, options);
    watches.push(answer.changed);
    return answer;
  };
  const a = agent({ master });
  await a.start();
  try {
    assert.equal(a.state, 'running');
    const partition = await request('web', hello, { parameters: { greeting: 'one' } });
    await reported('web', 'started');
    const path = join(h.config.instanceRoot, partition);
    assert.equal(await answer(partition), `hello from ${path}`);
    const answered = [...watches];
    assert.ok(answered.length > 0, 'the agent watched the change stream');
    assert.deepEqual(
      answered.filter((changed) => !changed),
      [],
      'deployed on the change stream: no watch had to reach its deadline (no timer of the agent ran)',
    );
    assert.equal(
      a.status().software.find((s) => s.url === hello)?.phase,
      'available',
      'the software release was built by the agent',
    );
    const pid = (await processesOf(partition))[0]?.pid;

    // A parameter change: processed again (the service's program is unchanged: it keeps running).
    const before = a.status().counters.partitions;
    await request('web', hello, { parameters: { greeting: 'two' } });
    await waitFor('reprocessed', () => a.status().counters.partitions > before);
    await waitFor('settled', () => partitionStatus(a, partition)?.phase === 'started');
    assert.match(await readFile(join(path, '.timestamp'), 'utf8'), /^\d+\.\d+$/);

    // Stopped: the services stop; started again: they run again.
    await request('web', hello, { parameters: { greeting: 'two' }, state: 'stopped' });
    await waitFor('stopped', async () => (await processesOf(partition))[0]?.state === 'STOPPED');
    await reported('web', 'stopped');
    await request('web', hello, { parameters: { greeting: 'two' }, state: 'started' });
    await waitFor('running again', async () => (await processesOf(partition))[0]?.state === 'RUNNING');
    assert.notEqual((await processesOf(partition))[0]?.pid, pid);

    // Destroyed: services gone, partition wiped and freed.
    await request('web', hello, { state: 'destroyed' });
    await waitFor('freed', () => h.db.partition(partition)?.slap_state === 'free', { timeoutMs: 30_000 });
    assert.deepEqual(await processesOf(partition), []);
    await waitFor('forgotten', () => partitionStatus(a, partition) === undefined);
  } finally {
    await a.close();
  }
  assert.equal(a.state, 'stopped');
});

test('a failing partition is retried with backoff and does not hold the others', async () => {
  const a = agent({ retry: { initialMs: 300, maxMs: 5_000, jitter: 0 } });
  await a.start();
  try {
    const bad = await request('bad', broken);
    const good = await request('good', hello);
    await reported('good', 'started');
    await answer(good);
    const failing = await waitFor(
      'three attempts',
      () => {
        const status = partitionStatus(a, bad);
        return status && status.attempts >= 3 ? status : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(failing.phase, 'failed');
    assert.equal(failing.error?.code, 'SLAP_ERR_RECIPE_UNSUPPORTED');
    assert.ok(failing.retryAt !== undefined && failing.retryAt > Date.now() - 1000);
    assert.match(h.db.instance('bad')?.error_message ?? '', /no\.such:recipe/);
    // Backoff: the attempts slow down (300 ms, 600 ms, 1.2 s, …), they do not spin.
    const attempts = failing.attempts;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok((partitionStatus(a, bad)?.attempts ?? 0) <= attempts + 2);

    // A new request of the broken instance (its marker changes) is processed at once.
    await request('bad', hello);
    await reported('bad', 'started');
    await waitFor('its failures forgotten', () => partitionStatus(a, bad)?.attempts === 0);
    assert.equal(partitionStatus(a, bad)?.phase, 'started');
    for (const title of ['bad', 'good']) await request(title, hello, { state: 'destroyed' });
    await waitFor(
      'both freed',
      () => [bad, good].every((id) => h.db.partition(id)?.slap_state === 'free') || undefined,
    );
  } finally {
    await a.close();
  }
});

test('a change that arrives while the partition is processed is not lost: processed once more after', async () => {
  const gate = join(h.dir, 'gate');
  const runs = join(h.dir, 'gated-runs');
  // Each run records the word it was given, then waits (at most about 30 s) for the gate.
  const gated = await writeSoftwareRelease(h.dir, 'gated', {
    instance: [
      '[buildout]',
      'parts = record',
      '',
      '[conf]',
      'recipe = slapos.cookbook:slapconfiguration',
      'computer = $${slap-connection:computer-id}',
      'partition = $${slap-connection:partition-id}',
      'url = $${slap-connection:server-url}',
      'key = $${slap-connection:key-file}',
      'cert = $${slap-connection:cert-file}',
      '',
      '[record]',
      'recipe = plone.recipe.command',
      'stop-on-error = yes',
      `command = echo $\${conf:configuration.word} >> ${runs}; i=0; until [ -e ${gate} ]; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.05; done`,
      '',
    ].join('\n'),
  });
  await h.client.supply({ softwareReleaseUri: gated, computerGuid: COMPUTER_ID });
  const recorded = async (): Promise<string[]> =>
    (await readFile(runs, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
  const a = agent();
  await a.start();
  try {
    const partition = await request('gated', gated, { parameters: { word: 'one' } });
    await waitFor(
      'the first run waiting at the gate',
      async () => (await recorded()).includes('one') || undefined,
      {
        timeoutMs: 30_000,
      },
    );
    const marker = (): string | undefined =>
      a.lastNodeState?.partitions?.find((p) => p.partitionId === partition)?.marker;
    const first = marker();
    await request('gated', gated, { parameters: { word: 'two' } });
    await waitFor('the agent told of the change', () => (marker() !== first ? true : undefined));
    assert.equal(partitionStatus(a, partition)?.phase, 'processing', 'still on its first run');
    await writeFile(gate, '');
    await waitFor(
      'processed again with the new word',
      async () =>
        ((await recorded()).length >= 2 && h.db.instance('gated')?.reported_state === 'started') || undefined,
      { timeoutMs: 30_000 },
    );
    await waitFor('settled', () => (partitionStatus(a, partition)?.phase === 'started' ? true : undefined));
    assert.deepEqual(await recorded(), ['one', 'two'], 'one run per wanted state: the change was not lost');
    await request('gated', gated, { state: 'destroyed' });
    await waitFor('freed', () => h.db.partition(partition)?.slap_state === 'free' || undefined);
  } finally {
    await a.close();
  }
});

test('a restarted agent finds everything up to date: nothing spawned, no service restarted', async () => {
  const first = agent();
  await first.start();
  let partition: string;
  try {
    partition = await request('steady', hello);
    await reported('steady', 'started');
    await answer(partition);
  } finally {
    await first.close();
  }
  const pid = (await processesOf(partition))[0]?.pid;
  assert.ok(pid, 'the service outlives the agent');

  const spawned: string[] = [];
  const exec: ExecFunction = (file, args, options) => {
    spawned.push(file);
    return execFile(file, args, options);
  };
  const second = agent({ exec });
  await second.start();
  try {
    await waitFor('checked', () => partitionStatus(second, partition)?.phase === 'up-to-date');
    assert.equal((await processesOf(partition))[0]?.pid, pid);
    assert.deepEqual(spawned, []);
  } finally {
    await second.close();
  }
  await request('steady', hello, { state: 'destroyed' });
  const cleaner = agent();
  await cleaner.start();
  try {
    await waitFor('freed', () => h.db.partition(partition)?.slap_state === 'free', { timeoutMs: 30_000 });
  } finally {
    await cleaner.close();
  }
});

test('the master away: offline, services keep running; back: the agent reconnects and resumes', async () => {
  const a = agent({ reconnect: { initialMs: 100, maxMs: 500 } });
  await a.start();
  const partition = await request('survivor', hello);
  await reported('survivor', 'started');
  await answer(partition);
  const pid = (await processesOf(partition))[0]?.pid;
  const { port, databasePath } = h.master;
  await h.master.master.close();
  try {
    await waitFor('offline', () => a.state === 'offline', { timeoutMs: 30_000 });
    assert.equal((await processesOf(partition))[0]?.pid, pid, 'services keep running');
    assert.match(a.status().lastError ?? '', /127\.0\.0\.1/);
  } finally {
    // The same master again (same port, same database).
    restartedMaster = await startMaster({
      host: '127.0.0.1',
      port,
      database: { kind: 'sqlite', path: databasePath },
      computerId: COMPUTER_ID,
    });
  }
  try {
    await waitFor('running', () => a.state === 'running', { timeoutMs: 30_000 });
    await request('survivor', hello, { parameters: { x: '1' } });
    await waitFor('processed after reconnecting', () =>
      a.status().partitions.some((p) => p.partitionId === partition && p.phase === 'started'),
    );
    assert.equal((await processesOf(partition))[0]?.pid, pid);
    await request('survivor', hello, { state: 'destroyed' });
    await waitFor('freed', () => h.db.partition(partition)?.slap_state === 'free', { timeoutMs: 30_000 });
  } finally {
    await a.close();
  }
});

test('a master without the change stream: the agent polls the JSON API', async () => {
  const master: AgentMaster = Object.create(h.client) as AgentMaster;
  master.readNodeSnapshot = () =>
    Promise.reject(
      new SlapError('SLAP_ERR_NOT_FOUND', 'No such path: /slapos.get.ext.compute_node_snapshot'),
    );
  const a = agent({ master, pollIntervalMs: 200 });
  await a.start();
  try {
    assert.equal(a.status().mode, 'poll');
    const partition = await request('polled', hello);
    await reported('polled', 'started');
    await answer(partition);
    await request('polled', hello, { state: 'destroyed' });
    await waitFor('freed', () => h.db.partition(partition)?.slap_state === 'free', { timeoutMs: 30_000 });
  } finally {
    await a.close();
  }
});

test('snapshots without a change stream (the legacy API): the agent polls the snapshot, watching no more', async () => {
  let watches = 0;
  let snapshots = 0;
  const master: AgentMaster = Object.create(h.client) as AgentMaster;
  master.readNodeSnapshot = (guid, options) => {
    snapshots++;
    return h.client.readNodeSnapshot(guid, options);
  };
  master.watchComputeNode = () => {
    watches++;
    return Promise.reject(new SlapError('SLAP_ERR_NOT_FOUND', 'the legacy SLAP API has no change stream'));
  };
  const a = agent({ master, pollIntervalMs: 200 });
  await a.start();
  try {
    assert.equal(a.status().mode, 'stream');
    const partition = await request('snapshot-polled', hello);
    await reported('snapshot-polled', 'started');
    await answer(partition);
    await request('snapshot-polled', hello, { state: 'destroyed' });
    await waitFor('freed', () => h.db.partition(partition)?.slap_state === 'free', { timeoutMs: 30_000 });
    assert.equal(watches, 1, 'the watch answered 404 once, then the agent only polled');
    assert.ok(snapshots >= 2, 'the changes were seen by reading the snapshot again');
  } finally {
    await a.close();
  }
});

test('close() is idempotent and leaves the services running', async () => {
  const a = agent();
  await a.start();
  const partition = await request('kept', hello);
  await reported('kept', 'started');
  const pid = (await processesOf(partition))[0]?.pid;
  await Promise.all([a.close(), a.close()]);
  await a.close();
  assert.equal(a.state, 'stopped');
  assert.equal((await processesOf(partition))[0]?.pid, pid);
  const cleaner = agent();
  await cleaner.start();
  try {
    await request('kept', hello, { state: 'destroyed' });
    await waitFor('freed', () => h.db.partition(partition)?.slap_state === 'free', { timeoutMs: 30_000 });
  } finally {
    await cleaner.close();
  }
});
