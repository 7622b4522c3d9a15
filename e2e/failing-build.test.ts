/**
 * A software release whose build fails, end to end: the error reaches the master with the tail of
 * the build log, the agent retries it with growing delays (exponential backoff), an instance of it
 * waits without error, and the rest of the node goes on: another release is built and deployed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { readFile, rm } from 'node:fs/promises';
import { helloSoftwareUrl } from '../src/standalone/demo.ts';
import {
  shortTempDir,
  startTestStandalone,
  waitForAnswer,
  waitForConnection,
  type TestStandalone,
} from '../src/testing/standalone.ts';
import { writeTestReleases } from '../src/testing/test-releases.ts';
import { waitFor } from '../src/testing/supervisor.ts';

let sa: TestStandalone;
let releaseDir: string;
let failing: string;

before(async () => {
  sa = await startTestStandalone({
    partitions: 3,
    prefix: 'sa-fail-',
    slapos: { agent_retry_delay: 0.4, agent_retry_max_delay: 30 },
  });
  releaseDir = await shortTempDir('rel-');
  failing = (await writeTestReleases(releaseDir)).failing;
});

after(async () => {
  await sa.close();
  await rm(releaseDir, { recursive: true, force: true });
});

test('a failing build reports its error with the log tail and is retried with backoff', async () => {
  assert.equal((await sa.slapos(['supply', failing, 'local', '--cfg', sa.layout.config])).exitCode, 0);
  const request = await sa.slapos(['request', 'broken', failing, '--cfg', sa.layout.config]);
  assert.ok(request.exitCode === 0 || request.exitCode === 2, request.stderr);
  // Meanwhile, another software release and its instance are not held up.
  const hello = helloSoftwareUrl();
  assert.equal((await sa.slapos(['supply', hello, 'local', '--cfg', sa.layout.config])).exitCode, 0);
  await sa.slapos(['request', 'fine', hello, '--parameters', 'name=Fine', '--cfg', sa.layout.config]);

  const status = await waitFor(
    'four attempts',
    async () => {
      const current = await sa.agentStatus();
      const software = current?.software.find((item) => item.url === failing);
      return software && software.attempts >= 4 ? current : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const software = status.software.find((item) => item.url === failing);
  assert.equal(software?.phase, 'failed');
  assert.match(software?.error?.message ?? '', /exit|status 3|failed/i);
  const partition = status.partitions.find((item) => item.instanceGuid === 'broken______0');
  assert.equal(partition?.phase, 'waiting-software', 'its instance waits, without error');
  assert.equal(partition?.attempts, 0);

  // The master has the error with the end of the build log.
  const db = new Database(sa.layout.database, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT reported_state, error_message FROM software_installation WHERE url = ?')
      .get(failing) as { reported_state: string; error_message: string };
    assert.equal(row.reported_state, 'error');
    assert.match(row.error_message, /Last lines of the build log/);
    assert.match(row.error_message, /configure: error: libfoo >= 1\.2 not found/);
  } finally {
    db.close();
  }

  // What people see: the instance waits for its software release, whose build failed, with the log tail.
  const cfg = ['--cfg', sa.layout.config];
  const buildFailure =
    /Node status: waiting for its software release, whose build failed:\n {4}\S[^]*\n {4}Last lines of the build log[^]*\n {4}.*configure: error: libfoo >= 1\.2 not found\n/;
  const requested = await sa.slapos(['request', 'broken', failing, ...cfg]);
  assert.equal(requested.exitCode, 0, requested.stderr);
  assert.match(requested.stdout, buildFailure);
  const info = await sa.slapos(['service', 'info', 'broken', ...cfg]);
  assert.match(info.stdout, buildFailure);
  const json = JSON.parse((await sa.slapos(['request', 'broken', failing, ...cfg, '--json'])).stdout) as {
    instance_status: { status: string; status_message: string };
  };
  assert.equal(json.instance_status.status, 'software-failed');
  assert.match(json.instance_status.status_message, /configure: error: libfoo >= 1\.2 not found/);
  const computer = await sa.slapos(['computer', 'info', 'local', ...cfg]);
  assert.ok(computer.stdout.includes(`  failed     ${failing}\n    error: `), computer.stdout);
  assert.match(computer.stdout, /^ {11}.*configure: error: libfoo >= 1\.2 not found$/m);
  // The standalone's own view: labelled columns, the instance's title, the whole error.
  const standalone = await sa.slapos(['standalone', 'status', '--dir', sa.dir]);
  assert.match(standalone.stdout, /^ {2}PHASE +SOFTWARE RELEASE$/m);
  assert.match(standalone.stdout, /^ {2}PARTITION +TITLE +STATE +PHASE +ERROR$/m);
  assert.match(standalone.stdout, /^ {2}slappart\d +broken +started +waiting-software$/m);
  assert.ok(standalone.stdout.includes(`failed     ${failing}\n`), standalone.stdout);

  // Backoff: each retry waits longer than the one before (0.4 s doubling, ± 20 % jitter).
  const log = await readFile(sa.layout.agentLog, 'utf8');
  const delays = log
    .split('\n')
    .filter((line) => line.includes('"will retry"'))
    .map((line) => JSON.parse(line) as { retryInMs: number; attempts: number; software?: string })
    .filter((record) => record.software === failing);
  assert.ok(delays.length >= 3, log);
  for (let index = 1; index < 3; index++) {
    const [previous, current] = [delays[index - 1], delays[index]];
    assert.ok(previous && current);
    assert.equal(current.attempts, previous.attempts + 1);
    assert.ok(current.retryInMs > previous.retryInMs * 1.3, JSON.stringify(delays));
  }

  const fine = await waitForConnection(sa.client, 'fine______0', 'url', { expected: /^http:/ });
  assert.equal(await waitForAnswer(fine.url as string, 'Hello Fine!'), 'Hello Fine!');
});
