/** The service layer directly: authorisation at one check point, formats, failed use cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import { formatFromJson, formatFromLegacyComputer } from '../../core/format-plan.ts';
import { silentLogger } from '../../lib/logger.ts';
import { openTestStore } from '../../testing/test-database.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
  type Caller,
  type MasterServices,
} from './index.ts';
import type { MasterStore, Repository } from '../storage/repository.ts';

async function withServices(
  work: (services: MasterServices, store: MasterStore) => Promise<void>,
): Promise<void> {
  // The store this run tests (SLAPOS_TEST_STORE): SQLite, or PostgreSQL in the second pass.
  const { store, close } = await openTestStore();
  try {
    const context = createServiceContext({
      store,
      clock: fixedClock(1_700_000_000),
      logger: silentLogger(),
      defaultComputeNodeId: 'computer',
      authorizer: proxyModeAuthorizer,
    });
    await work(createMasterServices(context), store);
  } finally {
    await close();
  }
}

async function dump(repository: Repository, node: string): Promise<unknown> {
  const partitions = await repository.listPartitions(node);
  return Promise.all(
    partitions.map(async (partition) => ({
      partition,
      addresses: await repository.listAddresses({ computeNodeId: node, partitionId: partition.reference }),
    })),
  );
}

test('the legacy format payload and the JSON one register the same partitions and addresses', async () => {
  await withServices(async (services, store) => {
    const legacy = formatFromLegacyComputer({
      reference: 'A',
      address: '10.0.0.1',
      netmask: '255.0.0.0',
      partition_list: [0, 1, 2].map((index) => ({
        reference: `slappart${index}`,
        tap: { name: `slaptap${index}` },
        address_list: [
          { addr: `10.0.0.${10 + index}`, netmask: '255.255.255.0' },
          { addr: `fd00::${10 + index}`, netmask: 'ffff::' },
        ],
      })),
    });
    const json = formatFromJson({
      computer_guid: 'B',
      compute_partition_list: [0, 1, 2].map((index) => ({
        partition_id: `slappart${index}`,
        ip_list: [
          {
            'ip-address': `10.0.0.${10 + index}`,
            'network-interface': `slaptap${index}`,
            netmask: '255.255.255.0',
          },
          { 'ip-address': `fd00::${10 + index}`, 'network-interface': `slaptap${index}`, netmask: 'ffff::' },
        ],
      })),
    });
    await services.formatComputeNode({ caller: LOCAL_CALLER, format: legacy });
    await services.formatComputeNode({ caller: LOCAL_CALLER, format: json });
    const [a, b] = await store.read(async (repository) => [
      await dump(repository, 'A'),
      await dump(repository, 'B'),
    ]);
    assert.deepEqual(
      JSON.parse(JSON.stringify(a).replaceAll('"computeNodeId":"A"', '"computeNodeId":"B"')),
      b,
    );
    assert.equal((b as unknown[]).length, 3);
  });
});

test('every use case goes through the one authorisation check point', async () => {
  await withServices(async (services, store) => {
    const stranger: Caller = { kind: 'user', userId: 'mallory', admin: false };
    // Every target exists, so that each call reaches the check point.
    await services.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: 'c',
        address: null,
        netmask: null,
        partitions: [{ reference: 'p', addresses: [] }],
      },
    });
    await services.requestInstance({
      caller: LOCAL_CALLER,
      title: 'x',
      softwareRelease: 's',
      softwareType: '',
      parameters: {},
      shared: false,
      state: 'started',
      sla: { computer_guid: 'c' },
    });
    const before = await store.read((repository) => repository.readNodeSnapshot('c'));
    const calls: [string, () => unknown][] = [
      [
        'requestInstance',
        () =>
          services.requestInstance({
            caller: stranger,
            title: 'x',
            softwareRelease: 's',
            softwareType: '',
            parameters: {},
            shared: false,
            state: 'started',
            sla: {},
          }),
      ],
      ['getInstance', () => services.getInstance({ caller: stranger, instanceGuid: 'x______0' })],
      [
        'getComputePartition',
        () => services.getComputePartition({ caller: stranger, computeNodeId: 'c', partitionId: 'p' }),
      ],
      ['getInstanceTree', () => services.getInstanceTree({ caller: stranger, title: 'x' })],
      ['listInstanceTreeSummaries', () => services.listInstanceTreeSummaries({ caller: stranger })],
      ['readInstanceTreeDetails', () => services.readInstanceTreeDetails({ caller: stranger, title: 'x' })],
      [
        'changeInstanceTreeState',
        () => services.changeInstanceTreeState({ caller: stranger, title: 'x', state: 'stopped' }),
      ],
      [
        'updateInstanceTree',
        () => services.updateInstanceTree({ caller: stranger, title: 'x', parameters: {} }),
      ],
      ['listInstanceTrees', () => services.listInstanceTrees({ caller: stranger })],
      ['listInstanceTreeViews', () => services.listInstanceTreeViews({ caller: stranger })],
      [
        'listComputeNodeInstances',
        () => services.listComputeNodeInstances({ caller: stranger, computeNodeId: 'c' }),
      ],
      [
        'listHostedSharedInstances',
        () => services.listHostedSharedInstances({ caller: stranger, instanceGuid: 'x______0' }),
      ],
      [
        'reportInstanceState',
        () =>
          services.reportInstanceState({
            caller: stranger,
            instanceGuid: 'x______0',
            reportedState: 'destroyed',
          }),
      ],
      [
        'reportInstanceState started',
        () =>
          services.reportInstanceState({
            caller: stranger,
            instanceGuid: 'x______0',
            reportedState: 'started',
          }),
      ],
      [
        'reportInstanceError',
        () => services.reportInstanceError({ caller: stranger, instanceGuid: 'x______0', message: 'm' }),
      ],
      [
        'setConnectionParameters',
        () =>
          services.setConnectionParameters({ caller: stranger, instanceGuid: 'x______0', parameters: {} }),
      ],
      [
        'bangInstance',
        () => services.bangInstance({ caller: stranger, instanceGuid: 'x______0', message: 'm' }),
      ],
      [
        'renameInstance',
        () => services.renameInstance({ caller: stranger, instanceGuid: 'x______0', newTitle: 'y' }),
      ],
      [
        'formatComputeNode',
        () =>
          services.formatComputeNode({
            caller: stranger,
            format: { computeNodeId: 'c', address: null, netmask: null, partitions: [] },
          }),
      ],
      ['listComputeNodes', () => services.listComputeNodes({ caller: stranger })],
      [
        'updateComputeNodeAccess',
        () =>
          services.updateComputeNodeAccess({ caller: stranger, computeNodeId: 'c', allocationScope: 'open' }),
      ],
      ['readNodeSnapshot', () => services.readNodeSnapshot({ caller: stranger, computeNodeId: 'c' })],
      [
        'readPartitionState',
        () => services.readPartitionState({ caller: stranger, computeNodeId: 'c', partitionId: 'p' }),
      ],
      [
        'watchComputeNode',
        () =>
          services.watchComputeNode({ caller: stranger, computeNodeId: 'c', afterRevision: 0, timeoutMs: 0 }),
      ],
      [
        'reportPromiseResults',
        () => services.reportPromiseResults({ caller: stranger, instanceGuid: 'x______0', results: [] }),
      ],
      [
        'readPromiseResults',
        () => services.readPromiseResults({ caller: stranger, instanceGuid: 'x______0' }),
      ],
      [
        'readPromiseHistory',
        () => services.readPromiseHistory({ caller: stranger, instanceGuid: 'x______0' }),
      ],
      [
        'readInstanceTimeline',
        () => services.readInstanceTimeline({ caller: stranger, instanceGuid: 'x______0' }),
      ],
      [
        'readUsageSeries node',
        () =>
          services.readUsageSeries({
            caller: stranger,
            computeNodeId: 'c',
            resources: ['r'],
            from: 0,
            to: 1,
          }),
      ],
      [
        'readUsageSeries instance',
        () =>
          services.readUsageSeries({
            caller: stranger,
            instanceGuid: 'x______0',
            resources: ['r'],
            from: 0,
            to: 1,
          }),
      ],
      ['computeNodeStatus', () => services.computeNodeStatus({ caller: stranger, computeNodeId: 'c' })],
      [
        'bangComputeNode',
        () => services.bangComputeNode({ caller: stranger, computeNodeId: 'c', message: 'm' }),
      ],
      [
        'reportComputeNodeUsage',
        () => services.reportComputeNodeUsage({ caller: stranger, computeNodeId: 'c', usageXml: '' }),
      ],
      [
        'createComputeNodeCertificate',
        () => services.createComputeNodeCertificate({ caller: stranger, computeNodeId: 'c' }),
      ],
      [
        'revokeComputeNodeCertificate',
        () => services.revokeComputeNodeCertificate({ caller: stranger, computeNodeId: 'c' }),
      ],
      [
        'instanceCertificate',
        () => services.instanceCertificate({ caller: stranger, instanceGuid: 'x______0' }),
      ],
      [
        'hateoasUrl',
        () => services.hateoasUrl({ caller: stranger, origin: { secure: false, host: 'h', prefix: '' } }),
      ],
      [
        'supplySoftware',
        () => services.supplySoftware({ caller: stranger, computeNodeId: 'c', url: 'u', state: 'available' }),
      ],
      [
        'reportSoftwareInstallationState',
        () =>
          services.reportSoftwareInstallationState({
            caller: stranger,
            computeNodeId: 'c',
            url: 'u',
            reportedState: 'destroyed',
          }),
      ],
      [
        'reportSoftwareInstallationError',
        () =>
          services.reportSoftwareInstallationError({
            caller: stranger,
            computeNodeId: 'c',
            url: 'u',
            message: 'm',
          }),
      ],
      [
        'listSoftwareInstallations',
        () => services.listSoftwareInstallations({ caller: stranger, computeNodeId: 'c' }),
      ],
      [
        'listSoftwareInstallationStatuses',
        () => services.listSoftwareInstallationStatuses({ caller: stranger, computeNodeId: 'c' }),
      ],
      [
        'readInstanceStatus',
        () => services.readInstanceStatus({ caller: stranger, instanceGuid: 'x______0' }),
      ],
      ['createRegistrationToken', () => services.createRegistrationToken({ caller: stranger })],
      ['openPanelSession', () => services.openPanelSession({ caller: stranger })],
      [
        'readSoftwareSchema',
        () => services.readSoftwareSchema({ caller: stranger, softwareRelease: '/nowhere/software.cfg' }),
      ],
      ['countInstancesByStatus', () => services.countInstancesByStatus({ caller: stranger })],
      ['listComputeNodeContacts', () => services.listComputeNodeContacts({ caller: stranger })],
      ['listRegistrationTokens', () => services.listRegistrationTokens({ caller: stranger })],
      [
        'revokeRegistrationToken',
        () => services.revokeRegistrationToken({ caller: stranger, id: 'a'.repeat(64) }),
      ],
      ['listComputeNodeViews', () => services.listComputeNodeViews({ caller: stranger })],
      ['readComputeNodeView', () => services.readComputeNodeView({ caller: stranger, computeNodeId: 'c' })],
      [
        'registerComputeNode',
        () => services.registerComputeNode({ caller: stranger, title: 't', certificateRequest: '' }),
      ],
      [
        'renewComputeNodeCertificate',
        () =>
          services.renewComputeNodeCertificate({
            caller: stranger,
            computeNodeId: 'c',
            certificateRequest: '',
          }),
      ],
      ['setPriceList', () => services.setPriceList({ caller: stranger, document: '{}' })],
      ['listPriceLists', () => services.listPriceLists({ caller: stranger })],
      ['generateInvoices', () => services.generateInvoices({ caller: stranger, period: '2026-01' })],
      ['listInvoices', () => services.listInvoices({ caller: stranger })],
      ['getInvoice', () => services.getInvoice({ caller: stranger, reference: 'INV-202601-000001' })],
      [
        'markInvoicePaid',
        () => services.markInvoicePaid({ caller: stranger, reference: 'INV-202601-000001' }),
      ],
      [
        'readInvoiceEvidence',
        () => services.readInvoiceEvidence({ caller: stranger, reference: 'INV-202601-000001' }),
      ],
      [
        'syncBackups',
        () =>
          services.syncBackups({ caller: stranger, computeNodeId: 'c', repository: null, partitions: [] }),
      ],
      ['takeoverInstance', () => services.takeoverInstance({ caller: stranger, title: 'x', clone: null })],
      ['requestBackup', () => services.requestBackup({ caller: stranger, title: 'x' })],
      ['listBackups', () => services.listBackups({ caller: stranger, title: 'x' })],
      ['requestRestore', () => services.requestRestore({ caller: stranger, title: 'x', backupId: null })],
    ];
    // What the panel's transport calls to authenticate (a session secret is the credential, not a
    // caller) and to learn that something changed: no caller, nothing to authorise.
    const authenticationPlumbing = new Set(['panelSessionCaller', 'closePanelSession', 'watchMasterChanges']);
    const bound = Object.keys(services).filter(
      (key) => key !== 'context' && !authenticationPlumbing.has(key),
    );
    assert.deepEqual(
      [...new Set(calls.map(([name]) => name.split(' ')[0]))].sort(),
      bound.sort(),
      'every use case is exercised',
    );
    for (const [name, call] of calls) {
      await assert.rejects(
        async () => {
          await call();
        },
        (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_FORBIDDEN',
        name,
      );
    }
    assert.deepEqual(await store.read((repository) => repository.readNodeSnapshot('c')), before);
    assert.deepEqual(
      (await store.read((repository) => repository.listComputeNodes())).map((node) => node.reference),
      ['c'],
    );
  });
});

test('a request that fails (no host for a shared instance) writes nothing', async () => {
  await withServices(async (services, store) => {
    await services.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: 'computer',
        address: null,
        netmask: null,
        partitions: [{ reference: 'p0', addresses: [] }],
      },
    });
    await assert.rejects(
      services.requestInstance({
        caller: LOCAL_CALLER,
        title: 'S',
        softwareRelease: 'none',
        softwareType: '',
        parameters: {},
        shared: true,
        state: 'started',
        sla: {},
      }),
      /No partition corresponding to slave request: \['none', 'computer'\]/,
    );
    assert.deepEqual(await store.read((repository) => repository.listRootTitles('')), {
      instances: [],
      shared: [],
    });
  });
});

test('a bang with the tree scope (legacy) bangs the whole tree; the instance scope (JSON) only the child', async () => {
  await withServices(async (services, store) => {
    await services.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: 'computer',
        address: null,
        netmask: null,
        partitions: ['p0', 'p1', 'p2', 'p3'].map((reference) => ({ reference, addresses: [] })),
      },
    });
    const request = (title: string, requester?: string) =>
      services.requestInstance({
        caller: LOCAL_CALLER,
        title,
        softwareRelease: 's',
        softwareType: '',
        parameters: {},
        shared: false,
        state: 'started',
        sla: {},
        ...(requester ? { requester: { computeNodeId: 'computer', partitionId: requester } } : {}),
      });
    const root = await request('root');
    const child = await request('child', root.partitionId);
    const sibling = await request('sibling', root.partitionId);
    await request('other');
    const timestamps = async (): Promise<Map<string, number | null>> =>
      new Map(
        (await store.read((repository) => repository.listPartitions('computer'))).map((partition) => [
          partition.reference,
          partition.timestamp,
        ]),
      );
    const before = await timestamps();
    const changed = async (): Promise<string[]> => {
      const after = await timestamps();
      return [...after].filter(([id, value]) => value !== before.get(id)).map(([id]) => id);
    };
    // A clock that moved: every bang sets a new timestamp.
    let now = 1_700_000_100;
    (services.context as { clock: { now: () => number } }).clock = { now: () => (now += 1) };
    await services.bangInstance({ caller: LOCAL_CALLER, instanceGuid: child.instanceGuid, message: 'm' });
    assert.deepEqual(await changed(), [child.partitionId]);
    await services.bangInstance({
      caller: LOCAL_CALLER,
      instanceGuid: child.instanceGuid,
      message: 'm',
      scope: 'tree',
    });
    assert.deepEqual(
      (await changed()).sort(),
      [root.partitionId, child.partitionId, sibling.partitionId].sort(),
    );
  });
});
