/**
 * The agent for a software release developer: node commands asked through the control channel
 * (done by the agent's own tasks, their progress and results sent back), a compute node bang that
 * makes it process every partition again, and local software releases rebuilt when their sources
 * are edited, their instances redeployed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  COMPUTER_ID,
  startNodeHarness,
  writeSoftwareRelease,
  type NodeHarness,
} from '../../testing/node-passes.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { waitFor } from '../../testing/supervisor.ts';
import type { InstancePassResult } from '../instance/instance-pass.ts';
import type { NodeProgressEvent } from '../pass.ts';
import type { PromiseCheckResult } from '../promise/check-partitions.ts';
import type { ReportPassResult } from '../report/report-pass.ts';
import { SOURCES_FILE } from '../software/local-sources.ts';
import { softwareDirectory, type SoftwarePassResult } from '../software/software-pass.ts';
import { NodeAgent, type AgentStatus, type LocalChangeStatus } from './agent.ts';
import { sendAgentRequest, startControlServer, type ControlServer } from './control.ts';

/** An instance profile writing `greeting.txt` (no service) with `text`. */
function greetingInstance(text: string): string {
  return [
    '[buildout]',
    'parts = greeting',
    '',
    '[greeting]',
    'recipe = slapos.recipe.template',
    'output = $${buildout:directory}/greeting.txt',
    `inline = ${text}`,
    '',
  ].join('\n');
}

function newAgent(): NodeAgent {
  return new NodeAgent(h.config, {
    master: h.client,
    supervisor: h.supervisor,
    watchTimeoutMs: 40_000,
    anomalyIntervalMs: 600_000,
    reportIntervalMs: 3600_000,
    watchLocalSoftware: true,
    sourceScanIntervalMs: 200,
    onProgress: (event) => events.push(event),
    onStatus: (status) => statuses.push(status),
  });
}

let h: NodeHarness;
let url: string;
let agent: NodeAgent;
let control: ControlServer;
let partition: string;
const events: NodeProgressEvent[] = [];
const statuses: AgentStatus[] = [];

const greeting = (): Promise<string | undefined> =>
  readFile(join(h.config.instanceRoot, partition, 'greeting.txt'), 'utf8')
    .then((text) => text.trim())
    .catch(() => undefined);

before(async () => {
  h = await startNodeHarness({ partitions: 2 });
  url = await writeSoftwareRelease(h.dir, 'dev', { instance: greetingInstance('one') });
  await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
  partition = (await h.client.requestInstance({ title: 'dev', softwareReleaseUri: url }))
    .compute_partition_id;
  agent = newAgent();
  await agent.start();
  control = await startControlServer(
    join(h.config.instanceRoot, 'var', 'run', 'agent.sock'),
    (request, onEvent, signal) => agent.request(request, onEvent, signal),
    { logger: (await import('../../lib/logger.ts')).silentLogger() },
  );
  await waitFor('the first deployment', async () => (await greeting()) === 'one', { timeoutMs: 30_000 });
});

after(async () => {
  await control.close();
  await agent.close({ graceMs: 1000 });
  await h.close();
});

test('the control socket is its owner’s only', async () => {
  assert.equal((await stat(control.path)).mode & 0o777, 0o600);
});

test('node software --force through the agent: built again by the agent, progress and result sent back', async () => {
  const received: NodeProgressEvent[] = [];
  const result = await sendAgentRequest<SoftwarePassResult>(
    control.path,
    { command: 'software', force: true, only: [url] },
    { onEvent: (event) => received.push(event) },
  );
  assert.deepEqual(
    result.items.map((item) => [item.url, item.outcome]),
    [[url, 'installed']],
  );
  assert.equal(result.exitCode, 0);
  assert.deepEqual(
    received.filter((event) => event.type === 'software').map((event) => event.action),
    ['building', 'available'],
  );
  assert.ok(received.some((event) => event.type === 'buildout' && event.target === url));
  assert.ok(
    received.every((event) => event.type !== 'partition'),
    'only the progress of the work asked for',
  );
  const none = await sendAgentRequest<SoftwarePassResult>(control.path, {
    command: 'software',
    force: false,
    only: ['https://example.invalid/other.cfg'],
  });
  assert.deepEqual(none.items, []);
});

test('node instance through the agent: forced, or only a check; unknown partitions are refused', async () => {
  const received: NodeProgressEvent[] = [];
  const forced = await sendAgentRequest<InstancePassResult>(
    control.path,
    { command: 'instance', force: true },
    { onEvent: (event) => received.push(event) },
  );
  assert.deepEqual(
    forced.items.map((item) => [item.partitionId, item.outcome]),
    [
      [partition, 'started'],
      ['slappart1', 'free'],
    ],
  );
  assert.equal(forced.exitCode, 0);
  assert.ok(received.some((event) => event.type === 'partition' && event.action === 'processing'));
  const check = await sendAgentRequest<InstancePassResult>(control.path, {
    command: 'instance',
    force: false,
    only: [partition],
  });
  assert.deepEqual(
    check.items.map((item) => [item.partitionId, item.outcome]),
    [[partition, 'up-to-date']],
  );
  await rejectsWithSlapError(
    sendAgentRequest(control.path, { command: 'instance', force: false, only: ['slappart99'] }),
    'SLAP_ERR_USAGE',
    /unknown partition/,
  );
  const report = await sendAgentRequest<ReportPassResult>(control.path, { command: 'report' });
  assert.equal(report.exitCode, 0);
});

test('node promise through the agent: the started partitions’ promises now, never during their processing', async () => {
  const promiseDir = join(h.config.instanceRoot, partition, 'etc', 'promise');
  await mkdir(promiseDir, { recursive: true });
  await writeFile(join(promiseDir, 'ready'), '#!/bin/sh\necho "all is well"\n', { mode: 0o755 });
  const failing = join(promiseDir, 'database');
  try {
    // Asked while the partition is processed: the check waits for the processing to end.
    const answered: string[] = [];
    let checking: Promise<PromiseCheckResult> | undefined;
    const forced = sendAgentRequest<InstancePassResult>(
      control.path,
      { command: 'instance', force: true, only: [partition] },
      {
        onEvent: (event) => {
          if (checking === undefined && event.type === 'partition' && event.action === 'processing')
            checking = sendAgentRequest<PromiseCheckResult>(control.path, { command: 'promise' }).then(
              (result) => {
                answered.push('promise');
                return result;
              },
            );
        },
      },
    ).then((result) => {
      answered.push('instance');
      return result;
    });
    assert.equal((await forced).exitCode, 0);
    assert.ok(checking, 'the processing was seen');
    const during = await checking;
    assert.deepEqual(answered, ['instance', 'promise']);
    assert.deepEqual(
      during.partitions.map((p) => [p.partition, p.results.map((r) => [r.title, r.failed, r.message])]),
      [[partition, [['ready', false, 'all is well']]]],
    );
    assert.equal(during.exitCode, 0);

    await writeFile(failing, '#!/bin/sh\necho "database is down"\nexit 1\n', { mode: 0o755 });
    const failed = await sendAgentRequest<PromiseCheckResult>(control.path, {
      command: 'promise',
      only: [partition],
      timeout: 5,
    });
    assert.equal(failed.exitCode, 2);
    assert.equal(failed.ok, false);
    assert.deepEqual(
      failed.partitions[0]?.results.map((r) => [r.title, r.failed]),
      [
        ['database', true],
        ['ready', false],
      ],
    );
    // A free partition has nothing started: nothing checked.
    const free = await sendAgentRequest<PromiseCheckResult>(control.path, {
      command: 'promise',
      only: ['slappart1'],
    });
    assert.deepEqual([free.exitCode, free.partitions], [0, []]);
    await rejectsWithSlapError(
      sendAgentRequest(control.path, { command: 'promise', only: ['slappart99'] }),
      'SLAP_ERR_USAGE',
      /unknown partition/,
    );
  } finally {
    await rm(promiseDir, { recursive: true, force: true });
  }
});

test('a compute node bang makes the agent process every partition again', async () => {
  const before = events.length;
  await h.client.bangComputeNode({ computerGuid: COMPUTER_ID, message: 'reprocess' });
  await waitFor(
    'the partition processed after the bang',
    () =>
      events
        .slice(before)
        .some(
          (event) =>
            event.type === 'partition' && event.partitionId === partition && event.action === 'processing',
        ) || undefined,
  );
});

test('an edited local release is rebuilt and its instances redeployed, with the progress in the status', async () => {
  const template = join(dirname(url), 'instance.cfg.in');
  const seen = statuses.length;
  await writeFile(template, greetingInstance('two'));
  await waitFor('the new content deployed', async () => (await greeting()) === 'two', { timeoutMs: 30_000 });
  const change = await waitFor('the redeployment done', () =>
    agent.status().localChanges.find((item) => item.url === url && item.phase === 'redeployed'),
  );
  assert.equal(change.file, template);
  assert.equal(change.instances, 1);
  assert.equal(change.redeployed, 1);
  assert.match(change.message, /^redeployed 1 instance of .* after .*instance\.cfg\.in changed$/);
  const phases = statuses
    .slice(seen)
    .flatMap((status) => status.localChanges)
    .map((item: LocalChangeStatus) => item.phase)
    .filter((phase, index, all) => index === 0 || all[index - 1] !== phase);
  assert.deepEqual(phases, ['rebuilding', 'redeploying', 'redeployed']);

  // A broken edit: the rebuild fails and says so; the fix is seen and deployed.
  await writeFile(url, `${await readFile(url, 'utf8')}\n[broken\n`);
  const failed = await waitFor('the failed rebuild', () =>
    agent.status().localChanges.find((item) => item.url === url && item.phase === 'failed'),
  );
  assert.match(failed.message, /^rebuilding .* after .*software\.cfg changed failed: /);
  await writeFile(url, (await readFile(url, 'utf8')).replace('\n[broken\n', ''));
  await writeFile(template, greetingInstance('three'));
  await waitFor('the fixed release deployed', async () => (await greeting()) === 'three', {
    timeoutMs: 30_000,
  });
});

test('an edited custom recipe module of a local release: seen, and built again with its new code by the same agent', async () => {
  const module = join(dirname(url), 'stamp.mjs');
  const stamp = join(softwareDirectory(h.config.softwareRoot, url), 'stamp.txt');
  const recipe = (text: string): string =>
    [
      "import { writeFile } from 'node:fs/promises';",
      'export async function install(ctx) {',
      "  const output = ctx.options.require('output');",
      `  await writeFile(output, ${JSON.stringify(text)});`,
      '  return [output];',
      '}',
      '',
    ].join('\n');
  const stamped = (): Promise<string | undefined> => readFile(stamp, 'utf8').catch(() => undefined);
  await writeFile(module, recipe('first'));
  await writeFile(
    url,
    (await readFile(url, 'utf8')).replace('parts = instance-profile', 'parts = instance-profile stamp') +
      '\n[stamp]\nrecipe = ./stamp.mjs\noutput = ${buildout:directory}/stamp.txt\n',
  );
  await waitFor('built with the recipe', async () => (await stamped()) === 'first', { timeoutMs: 30_000 });
  await writeFile(module, recipe('second'));
  await waitFor('built again with the edited recipe', async () => (await stamped()) === 'second', {
    timeoutMs: 30_000,
  });
  const change = await waitFor('the rebuild after the recipe edit', () =>
    agent.status().localChanges.find((item) => item.url === url && item.file === module),
  );
  assert.match(change.message, /stamp\.mjs changed/);
});

test('a local release built without a record of its sources (an older version) is built again once to record them', async () => {
  await agent.close({ graceMs: 1000 });
  const sources = join(softwareDirectory(h.config.softwareRoot, url), SOURCES_FILE);
  await rm(sources);
  agent = newAgent();
  await agent.start();
  await waitFor('the sources recorded', () => existsSync(sources) || undefined);
  await writeFile(join(dirname(url), 'instance.cfg.in'), greetingInstance('four'));
  await waitFor('the edit deployed', async () => (await greeting()) === 'four', { timeoutMs: 30_000 });
});
