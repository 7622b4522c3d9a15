/**
 * The instance trees as the panel lists and shows them, on the store this run tests (SQLite, or
 * PostgreSQL in the second pass): the list's statuses agree with readInstanceStatus's, a failing
 * promise anywhere in a started tree shows, shared roots take their host's status, and a state
 * change re-requests the tree as stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePythonJson } from '../../core/python-value.ts';
import { fixedClock } from '../../core/clock.ts';
import { instanceHealth } from '../../core/instance-status.ts';
import { silentLogger } from '../../lib/logger.ts';
import { openTestStore } from '../../testing/test-database.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
  type MasterServices,
} from './index.ts';

const RELEASE = 'https://example.com/software.cfg';
const caller = LOCAL_CALLER;

async function withServices(work: (services: MasterServices) => Promise<void>): Promise<void> {
  const { store, close } = await openTestStore();
  try {
    const context = createServiceContext({
      store,
      clock: fixedClock(1_700_000_000),
      logger: silentLogger(),
      defaultComputeNodeId: 'computer',
      authorizer: proxyModeAuthorizer,
    });
    await work(createMasterServices(context));
  } finally {
    await close();
  }
}

function requestOf(title: string, extra: Partial<Parameters<MasterServices['requestInstance']>[0]> = {}) {
  return {
    caller,
    title,
    softwareRelease: RELEASE,
    softwareType: 'default',
    parameters: { name: `<${title}>` },
    shared: false,
    state: 'started' as const,
    sla: {},
    ...extra,
  };
}

test('instance tree summaries: statuses as readInstanceStatus says, failing promises of the tree, shared roots through their host', async () => {
  await withServices(async (services) => {
    await services.formatComputeNode({
      caller,
      format: {
        computeNodeId: 'computer',
        address: null,
        netmask: null,
        partitions: [0, 1, 2, 3, 4].map((index) => ({ reference: `slappart${index}`, addresses: [] })),
      },
    });
    await services.supplySoftware({ caller, computeNodeId: 'computer', url: RELEASE, state: 'available' });
    await services.reportSoftwareInstallationState({
      caller,
      computeNodeId: 'computer',
      url: RELEASE,
      reportedState: 'available',
    });
    const date = '2026-12-07T00:00:00Z';
    const aRoot = await services.requestInstance(requestOf('a-root'));
    await services.reportInstanceState({
      caller,
      instanceGuid: aRoot.instanceGuid,
      reportedState: 'started',
    });
    await services.reportPromiseResults({
      caller,
      instanceGuid: aRoot.instanceGuid,
      results: [{ name: 'p', status: 'pass', message: '{"name":"p","status":"fail"}', date }],
    });
    const bRoot = await services.requestInstance(requestOf('b-root'));
    const bChild = await services.requestInstance(
      requestOf('b-child', { requester: { computeNodeId: 'computer', partitionId: bRoot.partitionId } }),
    );
    await services.reportInstanceState({
      caller,
      instanceGuid: bRoot.instanceGuid,
      reportedState: 'started',
    });
    await services.reportPromiseResults({
      caller,
      instanceGuid: bChild.instanceGuid,
      results: [{ name: 'p', status: 'fail', message: 'down', date }],
    });
    const stopped = await services.requestInstance(requestOf('c-stopped', { state: 'stopped' }));
    await services.reportInstanceState({
      caller,
      instanceGuid: stopped.instanceGuid,
      reportedState: 'stopped',
    });
    await services.requestInstance(requestOf('a-root', { shared: true }));
    await services.requestInstance(requestOf('gone', { shared: true }));
    await services.requestInstance(requestOf('gone', { shared: true, state: 'destroyed' }));

    const summaries = await services.listInstanceTreeSummaries({ caller });
    assert.deepEqual(
      summaries.map((tree) => [tree.title, tree.shared, tree.status, tree.computeNodeId, tree.partitionId]),
      [
        ['a-root', false, 'started', 'computer', aRoot.partitionId],
        ['a-root', true, 'started', 'computer', aRoot.partitionId],
        ['b-root', false, 'promise-failing', 'computer', bRoot.partitionId],
        ['c-stopped', false, 'stopped', 'computer', stopped.partitionId],
      ],
    );
    assert.ok(
      summaries.every((tree) => tree.softwareRelease === RELEASE && tree.lastChange === 1_700_000_000),
    );
    for (const tree of summaries.filter((summary) => !summary.shared)) {
      const root = await services.getInstanceTree({ caller, title: tree.title });
      const status = await services.readInstanceStatus({ caller, instanceGuid: root.instanceGuid });
      assert.equal(tree.status, instanceHealth(status.status, tree.title === 'b-root'), tree.title);
    }

    const details = await services.readInstanceTreeDetails({ caller, title: 'b-root' });
    assert.deepEqual(
      details.instances.map((instance) => [
        instance.view.title,
        instance.status,
        instance.promises.results.length,
      ]),
      [
        ['b-root', 'started', 0],
        ['b-child', 'deploying', 1],
      ],
    );
    const shared = await services.readInstanceTreeDetails({ caller, title: 'gone' });
    assert.equal(shared.shared, true);
    await assert.rejects(services.readInstanceTreeDetails({ caller, title: 'nope' }), {
      code: 'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
    });
  });
});

test('a state change requests the tree again as stored: same release, type, parameters and SLA', async () => {
  await withServices(async (services) => {
    await services.formatComputeNode({
      caller,
      format: {
        computeNodeId: 'computer',
        address: null,
        netmask: null,
        partitions: [{ reference: 'slappart0', addresses: [] }],
      },
    });
    const parameters = { text: 'a\r\nb\u2028c <&>', number: '3' };
    const before = await services.requestInstance(
      requestOf('tree', { parameters, softwareType: 'custom', sla: { computer_guid: 'computer' } }),
    );
    for (const state of ['stopped', 'started', 'destroyed'] as const) {
      await services.changeInstanceTreeState({ caller, title: 'tree', state });
      const after = await services.getInstanceTree({ caller, title: 'tree' });
      assert.equal(after.state, state);
      assert.deepEqual(
        [after.softwareRelease, after.softwareType, after.parameters, after.partitionId],
        [before.softwareRelease, 'custom', before.parameters, before.partitionId],
      );
    }
    await assert.rejects(services.changeInstanceTreeState({ caller, title: 'nope', state: 'stopped' }), {
      code: 'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
    });
  });
});

test('new parameters request the tree again with its stored state and SLA', async () => {
  await withServices(async (services) => {
    await services.formatComputeNode({
      caller,
      format: {
        computeNodeId: 'computer',
        address: null,
        netmask: null,
        partitions: [{ reference: 'slappart0', addresses: [] }],
      },
    });
    const sla = { computer_guid: 'computer', note: 'kept \u2028 <&>' };
    await services.requestInstance(requestOf('tree', { parameters: { name: 'a' }, sla, state: 'stopped' }));
    await services.updateInstanceTree({ caller, title: 'tree', parameters: { name: 'b\r\nc' } });
    const after = await services.getInstanceTree({ caller, title: 'tree' });
    assert.deepEqual([after.state, after.parameters], ['stopped', { name: 'b\r\nc' }]);
    const stored = await services.context.store.read((repository) =>
      repository.findInstance({ owner: '', title: 'tree', requestedBy: '', shared: false }),
    );
    assert.deepEqual(parsePythonJson(stored?.slaJson ?? 'null'), sla);
  });
});
