/**
 * Instance trees and nodes end to end, with real processes on 127.0.0.1: a composite profile whose
 * instance requests a child and publishes the child's URL; a shared instance on a host; two compute
 * nodes on one master, the instance placed by the `computer_guid` SLA. The agents' retry delay is
 * ten minutes here: everything converges through the change stream, never through a retry.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readAccessTokenFile } from '../src/lib/access-token.ts';
import { slaposBinPath } from '../src/lib/package-root.ts';
import { helloSoftwareUrl } from '../src/standalone/demo.ts';
import { spawnDetached, terminate } from '../src/standalone/processes.ts';
import { SupervisorClient } from '../src/node/supervisor/client.ts';
import { supervisorPaths } from '../src/node/supervisor/paths.ts';
import { renderCfg } from '../src/testing/node.ts';
import {
  shortTempDir,
  startTestStandalone,
  waitForAnswer,
  waitForConnection,
  type TestStandalone,
} from '../src/testing/standalone.ts';
import {
  compositeTreeScenario,
  sharedInstanceScenario,
  type TreeWorld,
} from '../src/testing/instance-tree-scenarios.ts';
import { writeTestReleases, type TestReleases } from '../src/testing/test-releases.ts';
import { waitFor } from '../src/testing/supervisor.ts';
import { rm, writeFile } from 'node:fs/promises';

let sa: TestStandalone;
let releases: TestReleases;
let releaseDir: string;

before(async () => {
  sa = await startTestStandalone({ partitions: 6, prefix: 'sa-tree-', slapos: { agent_retry_delay: 600 } });
  releaseDir = await shortTempDir('rel-');
  releases = await writeTestReleases(releaseDir);
});

after(async () => {
  await sa.close();
  await rm(releaseDir, { recursive: true, force: true });
});

/** `slapos <args> --cfg <the standalone's slapos.cfg>`; exit 0, or 2 (requested, not ready yet). */
async function slapos(...args: string[]): Promise<void> {
  const result = await sa.slapos([...args, '--cfg', sa.layout.config]);
  assert.ok(result.exitCode === 0 || result.exitCode === 2, `${result.exitCode}: ${result.stderr}`);
}

/** This standalone's world: the JSON API, instances named `title___root___0|1`. */
function world(): TreeWorld {
  return {
    releases,
    node: 'local',
    slapos,
    instance: (title, options = {}) =>
      sa.client.getInstance(`${title}___${options.root ?? ''}___${options.shared ? 1 : 0}`),
  };
}

test('a composite profile requests a child and publishes its URL, without waiting for a retry', async () => {
  // The parent fails first (its child has no URL yet); the child's publication makes the master
  // bump the parent's marker, and the agent processes it again at once (its retry is 10 min away).
  await compositeTreeScenario(world());
});

test('a shared instance is attached to a host, which publishes its connection parameters', async () => {
  await sharedInstanceScenario(world());
});

test('two compute nodes on one master: the computer_guid SLA places the instance', async () => {
  const dir = await shortTempDir('node2-');
  const cfg = join(dir, 'slapos.cfg');
  await writeFile(
    cfg,
    renderCfg({
      slapos: {
        sandbox: true,
        computer_id: 'COMP-2',
        master_url: `${sa.masterUrl}/`,
        master_token: await readAccessTokenFile(sa.layout.tokenFile),
        software_root: join(dir, 'soft'),
        instance_root: join(dir, 'inst'),
        software_min_free_space: '10M',
        instance_min_free_space: '10M',
        agent_retry_delay: 600,
      },
      slapformat: { partition_amount: 2 },
    }),
  );
  const format = await sa.slapos(['node', 'format', '--cfg', cfg, '--now']);
  assert.equal(format.exitCode, 0, format.stderr);
  const agent = await spawnDetached([slaposBinPath(), 'node', 'run', '--cfg', cfg], {
    logFile: join(dir, 'node-run.log'),
    cwd: dir,
  });
  try {
    const hello = helloSoftwareUrl();
    await slapos('supply', hello, 'COMP-2');
    await slapos(
      'request',
      'remote-hello',
      hello,
      '--node',
      'computer_guid=COMP-2',
      '--parameters',
      'name=Remote',
    );
    const connection = await waitForConnection(sa.client, 'remote-hello______0', 'url', {
      expected: /^http:/,
    });
    assert.equal(await waitForAnswer(connection.url as string, 'Hello Remote!'), 'Hello Remote!');
    const instance = await sa.client.getInstance('remote-hello______0');
    assert.equal(instance.computer_guid, 'COMP-2');
    // The first node's agent was not involved: its partitions hold no such instance.
    const local = await sa.client.listComputeNodeInstances('local');
    assert.ok(!local.some((item) => item.title === 'remote-hello'));
    const remote = await sa.client.listComputeNodeInstances('COMP-2');
    assert.deepEqual(
      remote.map((item) => item.title),
      ['remote-hello'],
    );

    await slapos('request', 'remote-hello', hello, '--node', 'computer_guid=COMP-2', '--state', 'destroyed');
    await waitFor(
      'freed on COMP-2',
      async () => (await sa.client.listComputeNodeInstances('COMP-2')).length === 0,
      {
        timeoutMs: 60_000,
      },
    );
  } finally {
    await terminate(agent.pid, 20_000);
    await new SupervisorClient({ socketPath: supervisorPaths(join(dir, 'inst')).socket })
      .shutdown({ stopPrograms: true })
      .catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});
