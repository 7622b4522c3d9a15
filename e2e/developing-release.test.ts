/**
 * docs/developing-software-releases.md, step by step, on a standalone SlapOS (real processes on
 * 127.0.0.1): a release written in a directory of one's own (a copy of examples/hello), supplied and
 * requested with the `slapos` command; an edit of its instance profile rebuilt and redeployed by the
 * agent without any command, the progress in `standalone status`; `node software --force`, `node
 * instance`, `node promise` and `node bang` while the agent runs; logs and promise results where the guide says;
 * `slapos remove` of the release in use.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { softwareDirectory } from '../src/node/software/software-pass.ts';
import { helloSoftwareUrl } from '../src/standalone/demo.ts';
import { waitFor } from '../src/testing/supervisor.ts';
import {
  startTestStandalone,
  waitForAnswer,
  waitForConnection,
  type TestStandalone,
} from '../src/testing/standalone.ts';

const EXAMPLE = dirname(helloSoftwareUrl());

let sa: TestStandalone;
let release: string;
let url: string;
let cfg: string[];
let service: string;
let partition: string;

before(async () => {
  sa = await startTestStandalone({ partitions: 2, prefix: 'sa-dev-' });
  cfg = ['--cfg', sa.layout.config];
  release = await mkdtemp(join(tmpdir(), 'my-release-'));
  // The guide's first step: a copy of examples/hello, the instance profile's md5sum left out.
  await cp(EXAMPLE, release, { recursive: true });
  const hashes = join(release, 'buildout.hash.cfg');
  await writeFile(
    hashes,
    (await readFile(hashes, 'utf8')).replace(/(\[instance-profile\]\nfilename = .*\n)md5sum = .*\n/, '$1'),
  );
  url = join(release, 'software.cfg');
});

after(async () => {
  await sa.close();
  await rm(release, { recursive: true, force: true });
});

const slapos = async (
  ...args: string[]
): Promise<{ stdout: string; stderr: string; exitCode: number | null }> =>
  sa.slapos([...args, ...cfg], { timeoutMs: 120_000 });

const instanceLog = (): Promise<string> =>
  readFile(join(sa.layout.instanceRoot, partition, '.slapgrid', 'log', 'instance.log'), 'utf8');

test('supply and request a release from a local directory: it answers', async () => {
  const supplied = await slapos('supply', url, 'local');
  assert.equal(supplied.exitCode, 0, supplied.stderr);
  const requested = await slapos('request', 'my-hello', url);
  assert.ok(requested.exitCode === 0 || requested.exitCode === 2, requested.stderr);
  const tree = await sa.client.getInstanceTree('my-hello');
  partition = tree.compute_partition_id ?? '';
  const connection = await waitForConnection(sa.client, tree.instance_guid, 'url', { expected: /^http:/ });
  service = connection.url as string;
  assert.equal(await waitForAnswer(service, 'Hello World!'), 'Hello World!');
});

test('an edit of the instance profile is rebuilt and redeployed without any command', async () => {
  const profile = join(release, 'instance.cfg.in');
  await writeFile(
    profile,
    (await readFile(profile, 'utf8')).replace('configuration.name = World', 'configuration.name = Developer'),
  );
  assert.equal(await waitForAnswer(service, 'Hello Developer!'), 'Hello Developer!');
  const status = await waitFor('the redeployment in standalone status', async () => {
    const text = (await sa.slapos(['standalone', 'status', '--dir', sa.dir])).stdout;
    return /developing: redeployed 1 instance of .* after .*instance\.cfg\.in changed/.test(text) && text;
  });
  assert.ok(status.includes(url));
  const json = JSON.parse((await sa.slapos(['standalone', 'status', '--dir', sa.dir, '--json'])).stdout) as {
    agent: { local_changes: { url: string; phase: string; file: string }[] };
  };
  assert.deepEqual(
    json.agent.local_changes.map((change) => [change.url, change.phase, change.file]),
    [[url, 'redeployed', profile]],
  );
});

test('node software --force and node instance while the agent runs: the agent does them, with progress', async () => {
  const software = await slapos('node', 'software', '--force', '--only-sr', url, '--now');
  assert.equal(software.exitCode, 0, software.stderr);
  assert.match(software.stderr, /A node agent is running \(pid \d+\): it does the work\./);
  assert.ok(software.stderr.includes(`Installing software release ${url}`), software.stderr);
  assert.match(software.stdout, /^1 software release: 1 installed/);

  const instance = await slapos('node', 'instance', '--force', '--now');
  assert.equal(instance.exitCode, 0, instance.stderr);
  assert.ok(instance.stderr.includes(`${partition}: processing (started)`), instance.stderr);
  assert.match(instance.stdout, /^2 partitions: 1 started, 1 free/);
  assert.equal(await waitForAnswer(service, 'Hello Developer!'), 'Hello Developer!');
});

test('node bang: the agent processes the partition again', async () => {
  const processed = (text: string): number => text.split('Processing partition').length - 1;
  const before = processed(await instanceLog());
  const bang = await slapos('node', 'bang', '-m', 'try again');
  assert.equal(bang.exitCode, 0, bang.stderr);
  await waitFor('processed again', async () => processed(await instanceLog()) > before);
});

test('logs and promise results are where the guide says', async () => {
  const build = await readFile(
    join(softwareDirectory(sa.layout.softwareRoot, url), '.slapos-build.log'),
    'utf8',
  );
  assert.ok(build.includes(`Installing software release ${url}`));
  assert.match(await instanceLog(), /Processing partition/);
  const serviceLog = await readFile(
    join(sa.layout.instanceRoot, partition, 'var', 'log', 'hello-web.log'),
    'utf8',
  );
  assert.match(serviceLog, /GET \//);
  const tail = await slapos('node', 'tail', `${partition}:hello-web-on-watch`);
  assert.equal(tail.exitCode, 0, tail.stderr);
  const info = await waitFor('the promise results at the master', async () => {
    const run = await slapos('service', 'info', 'my-hello');
    return run.exitCode === 0 && /hello-web: pass/.test(run.stdout) && run.stdout;
  });
  assert.match(info, /Promises \(reported at /);
  // node promise while the agent runs: the agent runs them now.
  const promise = await slapos('node', 'promise');
  assert.equal(promise.exitCode, 0, promise.stderr);
  assert.match(promise.stderr, /A node agent is running \(pid \d+\)/);
  assert.ok(promise.stdout.includes(`${partition}: hello-web [OK]`), promise.stdout);
  assert.match(promise.stdout, /promises? checked, 0 failed/);
  const agentLog = await readFile(sa.layout.agentLog, 'utf8');
  assert.match(agentLog, /rebuilding .* after .*instance\.cfg\.in changed/);
});

test('slapos remove of the release in use: kept until its instance is destroyed', async () => {
  const removed = await slapos('remove', url, 'local');
  assert.equal(removed.exitCode, 0, removed.stderr);
  assert.match(
    removed.stdout,
    /still used by 1 instance on local: the node keeps it until they are destroyed/,
  );
  const directory = softwareDirectory(sa.layout.softwareRoot, url);
  await waitFor(
    'kept',
    async () => (await sa.agentStatus())?.software.find((s) => s.url === url)?.phase === 'kept',
  );
  assert.equal(await waitForAnswer(service, 'Hello Developer!'), 'Hello Developer!');
  const destroyed = await slapos('request', 'my-hello', url, '--state', 'destroyed');
  assert.ok(destroyed.exitCode === 0 || destroyed.exitCode === 2, destroyed.stderr);
  await waitFor(
    'removed once unused',
    async () => (await readFile(join(directory, '.completed'), 'utf8').catch(() => undefined)) === undefined,
    { timeoutMs: 60_000 },
  );
});
