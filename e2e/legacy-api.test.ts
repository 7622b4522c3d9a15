/**
 * Our node and CLI against a master that speaks only the legacy SLAP API (`slapos proxy start --api
 * legacy`), with real processes on 127.0.0.1: a node configured `master_api = legacy` (`slapos node
 * format`, then `slapos node run`, which polls getFullComputerInformation) deploys the hello example
 * requested with `slapos request`, which then reads its connection parameters; then the
 * instance-tree scenarios of e2e/instance-trees.test.ts, instances named as the legacy API names them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMasterClient } from '../src/client/master-api.ts';
import type { MasterClient } from '../src/client/master-client.ts';
import type { Instance } from '../src/client/types.ts';
import { slaposBinPath } from '../src/lib/package-root.ts';
import { SupervisorClient } from '../src/node/supervisor/client.ts';
import { supervisorPaths } from '../src/node/supervisor/paths.ts';
import { helloSoftwareUrl } from '../src/standalone/demo.ts';
import { spawnDetached, terminate } from '../src/standalone/processes.ts';
import {
  compositeTreeScenario,
  sharedInstanceScenario,
  type TreeWorld,
} from '../src/testing/instance-tree-scenarios.ts';
import { renderCfg } from '../src/testing/node.ts';
import { startProxyProcess, stopProxyProcess, type ProxyProcess } from '../src/testing/proxy-process.ts';
import { runSlaposProcess, shortTempDir, waitForAnswer } from '../src/testing/standalone.ts';
import { waitFor } from '../src/testing/supervisor.ts';
import { writeTestReleases, type TestReleases } from '../src/testing/test-releases.ts';

const NODE = 'COMP-LEGACY';
let dir: string;
let proxy: ProxyProcess;
let agent: { pid: number } | undefined;
let clientCfg: string;
let client: MasterClient;
let releases: TestReleases;

before(async () => {
  dir = await shortTempDir('lg-');
  proxy = await startProxyProcess(
    ['--port', '0', '--database', join(dir, 'proxy.db'), '--computer-id', NODE, '--api', 'legacy'],
    dir,
  );
  const nodeCfg = join(dir, 'slapos.cfg');
  await writeFile(
    nodeCfg,
    renderCfg({
      slapos: {
        sandbox: true,
        computer_id: NODE,
        master_url: `${proxy.url}/`,
        master_api: 'legacy',
        software_root: join(dir, 'soft'),
        instance_root: join(dir, 'inst'),
        software_min_free_space: '10M',
        instance_min_free_space: '10M',
        // No change stream: the agent polls. Retries are slow, so that a parent learning its child's
        // connection parameters shows the legacy timestamp moving, not a retry.
        agent_poll_interval: 0.5,
        agent_retry_delay: 60,
        agent_retry_max_delay: 120,
      },
      slapformat: { partition_amount: 6, sandbox_ipv4_network: '127.94.0.0/24' },
    }),
  );
  clientCfg = join(dir, 'client.cfg');
  await writeFile(clientCfg, renderCfg({ slapconsole: { master_url: proxy.url, master_api: 'legacy' } }));
  const format = await runSlaposProcess(['node', 'format', '--cfg', nodeCfg, '--now']);
  assert.equal(format.exitCode, 0, format.stderr);
  agent = await spawnDetached([slaposBinPath(), 'node', 'run', '--cfg', nodeCfg], {
    logFile: join(dir, 'node-run.log'),
    cwd: dir,
  });
  client = createMasterClient({ api: 'legacy', masterUrl: proxy.url, computerGuid: NODE });
  releases = await writeTestReleases(join(dir, 'releases'));
});

after(async () => {
  await client.close();
  if (agent) await terminate(agent.pid, 20_000);
  await new SupervisorClient({ socketPath: supervisorPaths(join(dir, 'inst')).socket })
    .shutdown({ stopPrograms: true })
    .catch(() => undefined);
  await stopProxyProcess(proxy);
  await rm(dir, { recursive: true, force: true });
});

/** `slapos <args> --cfg <the client configuration: master_api = legacy>`. */
async function slapos(...args: string[]): Promise<string> {
  const result = await runSlaposProcess([...args, '--cfg', clientCfg]);
  assert.ok(result.exitCode === 0 || result.exitCode === 2, `${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

test('the hello example: requested with slapos request over the legacy API, deployed, its URL read back', async () => {
  const hello = helloSoftwareUrl();
  await slapos('supply', hello, NODE);
  const request = async (): Promise<Instance> =>
    JSON.parse(
      await slapos('request', 'hello-legacy', hello, '--parameters', 'name=Legacy', '--json'),
    ) as Instance;
  const first = await request();
  assert.equal(first.instance_guid, `${NODE}-${first.compute_partition_id}`, 'the legacy guid');
  const url = await waitFor(
    'the hello instance publishing its URL',
    async () => {
      const value = (await request()).connection_parameters.url;
      return typeof value === 'string' && value.startsWith('http:') ? value : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  assert.equal(await waitForAnswer(url, 'Hello Legacy!'), 'Hello Legacy!');
  const services = JSON.parse(await slapos('service', 'list', '--json')) as Instance[];
  assert.deepEqual(
    services.map((service) => [service.title, service.instance_guid, service.connection_parameters.url]),
    [['hello-legacy', first.instance_guid, url]],
  );

  await slapos('request', 'hello-legacy', hello, '--state', 'destroyed');
  await waitFor(
    'the hello partition freed',
    async () => !(await client.listComputeNodeInstances(NODE)).some((item) => item.title === 'hello-legacy'),
    { timeoutMs: 60_000 },
  );
});

/** The legacy world: roots read as instance trees, children found on the node by title. */
function world(): TreeWorld {
  return {
    releases,
    node: NODE,
    slapos: async (...args) => void (await slapos(...args)),
    async instance(title, options = {}) {
      if (options.root === undefined) return client.getInstanceTree(title);
      const listed = (await client.listComputeNodeInstances(NODE)).find((item) => item.title === title);
      return listed && client.getInstance(listed.instance_guid);
    },
  };
}

test('a composite profile requests a child over the legacy API and publishes its URL', async () => {
  await compositeTreeScenario(world());
});

test('a shared instance is attached to a host, which publishes its connection parameters', async () => {
  await sharedInstanceScenario(world());
});
