/**
 * Instance and software installation statuses (our extension, slapos-extensions.json): what the
 * nodes reported, as people read it. Over real HTTP, every answer checked against the contract.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../core/clock.ts';
import { callApi, formatTestNode, startTestMaster, type TestMaster } from '../testing/master.ts';
import { JsonMasterClient } from '../client/master-client.ts';

const STATUS = '/slapos.get.ext.software_instance_status';
const SOFTWARE = '/slapos.get.ext.compute_node_software_installation_status';
const SR = 'https://example.com/sr/software.cfg';
const NODE = 'COMP-S';
const START = 1_700_000_000.5;

interface Env {
  master: TestMaster;
  client: JsonMasterClient;
  clock: ReturnType<typeof fixedClock>;
}

async function withMaster(work: (env: Env) => Promise<void>): Promise<void> {
  const clock = fixedClock(START);
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

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

test('an instance goes from waiting for its software release to started, failed and back', async () => {
  await withMaster(async ({ master, client, clock }) => {
    const guid = (await client.requestInstance({ title: 'web', softwareReleaseUri: SR })).instance_guid;
    const status = async (): Promise<Record<string, unknown>> => {
      const answer = await callApi(master.url, STATUS, { instance_guid: guid });
      assert.equal(answer.status, 200);
      return answer.body as Record<string, unknown>;
    };
    const base = {
      instance_guid: guid,
      requested_state: 'started',
      reported_state: null,
      reported_at: null,
      error_at: null,
    };
    assert.deepEqual(await status(), {
      ...base,
      status: 'waiting-software',
      status_message: 'its software release is not supplied to its compute node (slapos supply)',
      software_installation_status: null,
    });

    const software = { softwareReleaseUri: SR, computerGuid: NODE };
    await client.supply(software);
    assert.equal((await status()).software_installation_status, 'requested');
    clock.advance(1);
    await client.reportSoftwareInstallationState({ ...software, state: 'building' });
    assert.deepEqual(await status(), {
      ...base,
      status: 'waiting-software',
      status_message: 'its software release is building',
      software_installation_status: 'building',
    });
    clock.advance(1);
    const buildError =
      'buildout failed\n\nLast lines of the build log (/srv/soft/x/.build.log):\nerror: libfoo';
    await client.reportSoftwareInstallationError({ ...software, message: buildError });
    assert.deepEqual(await status(), {
      ...base,
      status: 'software-failed',
      status_message: buildError,
      software_installation_status: 'failed',
    });
    const list = await callApi(master.url, SOFTWARE, { computer_guid: NODE });
    assert.deepEqual(list.body, {
      computer_guid: NODE,
      result_list: [
        {
          software_release_uri: SR,
          state: 'available',
          status: 'failed',
          error_message: buildError,
          reported_at: iso(START + 2),
        },
      ],
    });

    clock.advance(1);
    await client.reportSoftwareInstallationState({ ...software, state: 'available' });
    assert.deepEqual(await status(), {
      ...base,
      status: 'deploying',
      status_message: null,
      software_installation_status: 'available',
    });
    assert.deepEqual((await callApi(master.url, SOFTWARE, { computer_guid: NODE })).body, {
      computer_guid: NODE,
      result_list: [
        {
          software_release_uri: SR,
          state: 'available',
          status: 'available',
          error_message: null,
          reported_at: iso(START + 3),
        },
      ],
    });

    clock.advance(1);
    await client.reportInstanceState({ instanceGuid: guid, state: 'started' });
    const started = { ...base, reported_state: 'started', reported_at: iso(START + 4) };
    assert.deepEqual(await status(), {
      ...started,
      status: 'started',
      status_message: null,
      software_installation_status: 'available',
    });

    clock.advance(1);
    await client.reportInstanceError({
      instanceGuid: guid,
      message: 'promise web failed\nconnection refused',
    });
    assert.deepEqual(await status(), {
      ...started,
      error_at: iso(START + 5),
      status: 'failed',
      status_message: 'promise web failed\nconnection refused',
      software_installation_status: 'available',
    });

    // A bang asks the node to process it again: the error is from before, it is deploying.
    clock.advance(1);
    await client.bang({ instanceGuid: guid, message: 'retry' });
    assert.equal((await status()).status, 'deploying');
    clock.advance(1);
    await client.reportInstanceState({ instanceGuid: guid, state: 'started' });
    assert.equal((await status()).status, 'started');

    // Stopped as asked.
    clock.advance(1);
    await client.requestInstance({ title: 'web', softwareReleaseUri: SR, state: 'stopped' });
    assert.equal((await status()).status, 'deploying');
    clock.advance(1);
    await client.reportInstanceState({ instanceGuid: guid, state: 'stopped' });
    assert.deepEqual([(await status()).status, (await status()).requested_state], ['stopped', 'stopped']);

    // The client's reading of the same answers.
    assert.equal((await client.getInstanceStatus(guid))?.status, 'stopped');
    assert.equal((await client.listSoftwareInstallationStatuses(NODE))?.[0]?.status, 'available');
  });
});

test('a shared instance has its host status; unknown instances and nodes answer 403', async () => {
  await withMaster(async ({ master, client, clock }) => {
    await client.supply({ softwareReleaseUri: SR, computerGuid: NODE });
    await client.reportSoftwareInstallationState({
      softwareReleaseUri: SR,
      computerGuid: NODE,
      state: 'available',
    });
    const host = await client.requestInstance({ title: 'host', softwareReleaseUri: SR });
    clock.advance(1);
    await client.reportInstanceState({ instanceGuid: host.instance_guid, state: 'started' });
    const shared = await client.requestInstance({ title: 'tenant', softwareReleaseUri: SR, shared: true });
    const answer = await callApi(master.url, STATUS, { instance_guid: shared.instance_guid });
    assert.equal(answer.status, 200);
    assert.equal((answer.body as { status: string }).status, 'started');

    const unknown = await callApi(master.url, STATUS, { instance_guid: 'nobody______0' });
    assert.equal(unknown.status, 403);
    const unknownNode = await callApi(master.url, SOFTWARE, { computer_guid: 'COMP-NONE' });
    assert.equal(unknownNode.status, 403);
  });
});
