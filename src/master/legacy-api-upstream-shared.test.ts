/**
 * slapproxy's legacy tests TestSlaveRequest and TestMultiNodeSupport (slapos/tests/test_slapproxy.py),
 * replayed over real HTTP against our master in proxy mode; how, and what is not replayed: see the
 * header of legacy-api-upstream.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MarshalDict } from '../core/xml-marshaller.ts';
import { marshalDict, marshalList } from '../testing/legacy.ts';
import {
  DEFAULT_COMPUTER,
  softwareReleaseState,
  withLegacyMaster,
  type LegacyMaster,
  type SlapComputer,
  type SlapPartition,
} from '../testing/legacy-master.ts';

const SR = 'http://sr//';

/** `_parameter_dict['slave_instance_list']` of a host partition. */
function slaveInstanceList(partition: SlapPartition | undefined): MarshalDict[] {
  assert.ok(partition, 'the host partition is listed');
  return marshalList(partition.parameterDict['slave_instance_list'], 'slave_instance_list').map((entry) =>
    marshalDict(entry, 'slave_instance_list entry'),
  );
}

function firstSlave(partition: SlapPartition | undefined): MarshalDict {
  const [first] = slaveInstanceList(partition);
  assert.ok(first, 'the host has a shared instance');
  return first;
}

// ---------------------------------------------------------------- TestSlaveRequest

test('TestSlaveRequest.test_slave_request_no_corresponding_partition', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    const response = await master.requestRaw(SR, null, 'MyFirstInstance', 'slappart2', { shared: true });
    assert.equal(response.status, 404, response.text);
    // Beyond upstream: the 404 is the allocation failure, not a missing route.
    assert.match(response.text, /No partition corresponding to slave request/);
  });
});

test('TestSlaveRequest.test_slave_request_set_parameters', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6);
    const hostId = (await master.request(SR, null, 'MyFirstInstance', 'slappart4')).getId();
    await master.request(SR, null, 'MyFirstInstance', 'slappart2', {
      shared: true,
      parameters: { domain: 'fou.org' },
    });
    const host = await master.getPartitionInformation(hostId);
    assert.equal(firstSlave(host)['domain'], 'fou.org');
  });
});

test('TestSlaveRequest.test_master_instance_with_no_slave', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6);
    const hostId = (await master.request(SR, null, 'MyMasterInstance', 'slappart4')).getId();
    assert.equal(slaveInstanceList(await master.getPartitionInformation(hostId)).length, 0);
  });
});

async function firstPartition(master: LegacyMaster): Promise<SlapPartition> {
  const [partition] = (await master.getFullComputerInformation()).partitions;
  assert.ok(partition, 'the node has a partition');
  return partition;
}

test('TestSlaveRequest.test_slave_request_updates_timestamp', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    await master.request(SR, null, 'MyMasterInstance', 'slappart4');
    let before = await firstPartition(master);
    assert.equal(slaveInstanceList(before).length, 0);
    const steps: { title: string; parameters?: MarshalDict; count: number; changes: boolean; why: string }[] =
      [
        {
          title: 'MyFirstSlave',
          count: 1,
          changes: true,
          why: 'Adding first slave shall change the timestamp',
        },
        {
          title: 'MySecondSlave',
          count: 2,
          changes: true,
          why: 'Adding second slave shall change the timestamp',
        },
        {
          title: 'MySecondSlave',
          parameters: { a: 'b' },
          count: 2,
          changes: true,
          why: 'Updating any slave shall change the timestamp',
        },
        {
          title: 'MySecondSlave',
          parameters: { a: 'b' },
          count: 2,
          changes: false,
          why: 'No-op change of the slave shall not change the timestamp',
        },
      ];
    for (const step of steps) {
      master.clock.advance(0.1);
      await master.request(SR, null, step.title, null, {
        shared: true,
        ...(step.parameters ? { parameters: step.parameters } : {}),
      });
      const after = await firstPartition(master);
      assert.equal(slaveInstanceList(after).length, step.count);
      if (step.changes) assert.ok(before.timestamp < after.timestamp, step.why);
      else assert.equal(after.timestamp, before.timestamp, step.why);
      before = after;
    }
  });
});

test('TestSlaveRequest.test_slave_request_destroyed', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    await master.request(SR, null, 'MyMasterInstance', 'slappart4');
    await master.request(SR, null, 'MyFirstSlave', null, { shared: true });
    await master.request(SR, null, 'MySecondSlave', null, { shared: true });
    const before = await firstPartition(master);
    assert.equal(slaveInstanceList(before).length, 2);
    master.clock.advance(0.1);
    await master.request(SR, null, 'MyFirstSlave', null, { shared: true, state: 'destroyed' });
    const after = await firstPartition(master);
    const slaves = slaveInstanceList(after);
    assert.equal(slaves.length, 1);
    assert.ok(before.timestamp < after.timestamp, 'Slave destroy shall result with timestamp update');
    assert.equal(slaves[0]?.['slave_reference'], '_MySecondSlave');
  });
});

test('TestSlaveRequest.test_slave_request_set_parameters_are_updated', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6);
    const hostId = (await master.request(SR, null, 'MyFirstInstance', 'slappart4')).getId();
    await master.request(SR, null, 'MyFirstInstance', 'slappart2', {
      shared: true,
      parameters: { domain: 'crazy.org' },
    });
    assert.equal(firstSlave(await master.getPartitionInformation(hostId))['domain'], 'crazy.org');
    await master.request(SR, null, 'MyFirstInstance', 'slappart2', {
      shared: true,
      parameters: { domain: 'maluco.org' },
    });
    const slave = firstSlave(await master.getPartitionInformation(hostId));
    assert.notEqual(slave['domain'], 'crazy.org');
    assert.equal(slave['domain'], 'maluco.org');
  });
});

test('TestSlaveRequest.test_slave_request_set_connection_parameters', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6);
    const hostId = (await master.request(SR, null, 'MyMasterInstance', 'slappart4')).getId();
    await master.request(SR, null, 'MySlaveInstance', 'slappart2', { shared: true });
    const host = await master.getPartitionInformation(hostId);
    const reference = firstSlave(host)['slave_reference'];
    assert.equal(typeof reference, 'string');
    const response = await master.setConnectionDict(hostId, { foo: 'bar' }, reference as string);
    assert.equal(response.status, 200, response.text);
    const slave = await master.request(SR, null, 'MySlaveInstance', 'slappart2', { shared: true });
    assert.equal(await slave.getConnectionParameter('foo'), 'bar');
  });
});

test('TestSlaveRequest.test_slave_request_one_corresponding_partition', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6);
    const hostId = (await master.request(SR, null, 'MyFirstInstance', 'slappart4')).getId();
    // A shared instance: no connection parameters yet, but it is in its host's list.
    let slave = await master.request(SR, null, 'MyFirstInstance', 'slappart2', { shared: true });
    assert.deepEqual(slave.dict['_connection_dict'], {});
    const entry = firstSlave(await master.getPartitionInformation(hostId));
    // The host publishes the shared instance's connection parameters…
    const address = { url: '%s.master.com' };
    const response = await master.setConnectionDict(hostId, address, entry['slave_reference'] as string);
    assert.equal(response.status, 200, response.text);
    // … and requesting it again gives them.
    slave = await master.request(SR, null, 'MyFirstInstance', 'slappart2', { shared: true });
    assert.deepEqual(slave.dict['_connection_dict'], address);
  });
});

test('TestSlaveRequest.test_slave_request_instance_guid', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    const partition = await master.request(SR, null, 'MyInstance', 'slappart1');
    const guid = partition.dict['_instance_guid'];
    assert.equal(typeof guid, 'string');
    const slave = await master.request(SR, null, 'MySlaveInstance', 'slappart1', {
      shared: true,
      filter: { instance_guid: guid as string },
    });
    assert.equal(slave.partitionId, partition.partitionId);
  });
});

// ---------------------------------------------------------------- TestMultiNodeSupport

function releaseOf(computer: SlapComputer, index: number): MarshalDict {
  const release = computer.softwareReleases[index];
  assert.ok(release, `software release ${index} of ${JSON.stringify(computer.dict['_computer_id'])}`);
  return release;
}

test('TestMultiNodeSupport.test_multi_node_support_different_software_release_list', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6, 'COMP-0');
    await master.formatForNumberOfPartitions(6, 'COMP-1');
    await master.supply('http://sr1', 'COMP-0');
    await master.supply('http://sr2', 'COMP-1');
    await master.supply('http://sr3', 'COMP-0');
    await master.supply('http://sr3', 'COMP-1');
    const computerDefault = await master.getFullComputerInformation(DEFAULT_COMPUTER);
    const computer0 = await master.getFullComputerInformation('COMP-0');
    const computer1 = await master.getFullComputerInformation('COMP-1');
    assert.equal(computerDefault.softwareReleases.length, 0);
    assert.equal(computer0.softwareReleases.length, 2);
    assert.equal(computer1.softwareReleases.length, 2);
    const expected: [SlapComputer, number, string, string][] = [
      [computer0, 0, 'http://sr1', 'COMP-0'],
      [computer0, 1, 'http://sr3', 'COMP-0'],
      [computer1, 0, 'http://sr2', 'COMP-1'],
      [computer1, 1, 'http://sr3', 'COMP-1'],
    ];
    for (const [computer, index, url, computerId] of expected) {
      assert.equal(releaseOf(computer, index)['_software_release'], url);
      assert.equal(releaseOf(computer, index)['_computer_guid'], computerId);
    }
  });
});

test('TestMultiNodeSupport.test_multi_node_support_remove_software_release', async () => {
  await withLegacyMaster(async (master) => {
    const url = 'http://sr';
    await master.formatForNumberOfPartitions(6, 'COMP-0');
    await master.formatForNumberOfPartitions(6, 'COMP-1');
    await master.supply(url, 'COMP-0');
    await master.supply(url, 'COMP-1');
    await master.supply(url, 'COMP-0', 'destroyed');
    const computer0 = await master.getFullComputerInformation('COMP-0');
    const computer1 = await master.getFullComputerInformation('COMP-1');
    // The software is to be destroyed on COMP-0…
    assert.equal(releaseOf(computer0, 0)['_software_release'], url);
    assert.equal(releaseOf(computer0, 0)['_computer_guid'], 'COMP-0');
    assert.equal(softwareReleaseState(releaseOf(computer0, 0)), 'destroyed');
    // … but still to be installed on COMP-1.
    assert.equal(releaseOf(computer1, 0)['_software_release'], url);
    assert.equal(releaseOf(computer1, 0)['_computer_guid'], 'COMP-1');
    assert.equal(softwareReleaseState(releaseOf(computer1, 0)), 'available');
  });
});

test('TestMultiNodeSupport.test_multi_node_support_instance_default_computer', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6, 'COMP-0');
    await master.formatForNumberOfPartitions(6, 'COMP-1');
    // Without an SLA a request goes to the default node only, which has no partition yet.
    let response = await master.requestRaw(SR, null, 'MyFirstInstance', 'slappart2');
    assert.equal(response.status, 404, response.text);
    response = await master.requestRaw(SR, null, 'MyFirstInstance', 'slappart2', {
      filter: { computer_guid: DEFAULT_COMPUTER },
    });
    assert.equal(response.status, 404, response.text);
    // Once the default node is formatted, deployment works.
    await master.formatForNumberOfPartitions(1);
    await master.request(SR, null, 'MyFirstInstance', 'slappart0');
    assert.equal((await master.getFullComputerInformation()).softwareReleases.length, 0);
    // No free partition left on the default node.
    response = await master.requestRaw(SR, null, 'CanIHasPartition', 'slappart2', {
      filter: { computer_guid: DEFAULT_COMPUTER },
    });
    assert.equal(response.status, 404, response.text);
  });
});

/** The software release of each partition of a node (null for a free one), in the node's order. */
async function releasesOf(master: LegacyMaster, computerId: string): Promise<(string | null)[]> {
  const computer = await master.getFullComputerInformation(computerId);
  return computer.partitions.map((partition) => {
    const document = partition.softwareReleaseDocument;
    return document ? (document['_software_release'] as string) : null;
  });
}

test('TestMultiNodeSupport.test_multi_node_support_instance', async () => {
  await withLegacyMaster(async (master) => {
    const sr1 = 'http://sr//';
    const sr2 = 'http://othersr//';
    await master.formatForNumberOfPartitions(2, 'COMP-1');
    // COMP-0 is not registered yet.
    const response = await master.requestRaw(sr1, null, 'MyFirstInstance', 'slappart2', {
      filter: { computer_guid: 'COMP-0' },
    });
    assert.equal(response.status, 404, response.text);
    await master.formatForNumberOfPartitions(2, 'COMP-0');
    let partition = await master.request(sr1, null, 'MyFirstInstance', 'slappart0', {
      filter: { computer_guid: 'COMP-0' },
    });
    assert.equal(await partition.getState(), 'started');
    assert.equal(partition.partitionId, 'slappart0');
    assert.equal(partition.computerId, 'COMP-0');
    assert.deepEqual(
      [...(await releasesOf(master, 'COMP-0')), ...(await releasesOf(master, 'COMP-1'))],
      [sr1, null, null, null],
    );
    partition = await master.request(sr2, null, 'MySecondInstance', 'slappart0', {
      filter: { computer_guid: 'COMP-1' },
    });
    assert.equal(await partition.getState(), 'started');
    assert.equal(partition.partitionId, 'slappart0');
    assert.equal(partition.computerId, 'COMP-1');
    assert.deepEqual(
      [...(await releasesOf(master, 'COMP-0')), ...(await releasesOf(master, 'COMP-1'))],
      [sr1, null, sr2, null],
    );
  });
});

test('TestMultiNodeSupport.test_multiple_instance_trees', async () => {
  await withLegacyMaster(async (master) => {
    const sr1 = 'http://sr//';
    const sr2 = 'http://othersr//';
    await master.formatForNumberOfPartitions(4, 'COMP-0');
    await master.formatForNumberOfPartitions(4, 'COMP-1');
    // All 'foo' children start on the first node, 'bar' ones on the other.
    const on0 = { filter: { computer_guid: 'COMP-0' } };
    const on1 = { filter: { computer_guid: 'COMP-1' } };
    const name1 = ['MyFirstInstance', 'foo', 'bar'];
    const root1 = await master.request(sr1, null, 'MyFirstInstance', null, on0);
    const sub1 = [
      await root1.request(sr1, null, 'foo', on0),
      await root1.request(sr1, null, 'bar', on1),
    ] as const;
    const name2 = ['MySecondInstance', 'foo', 'bar'];
    const root2 = await master.request(sr2, null, 'MySecondInstance', null, on1);
    await root2.request(sr2, null, 'foo', on0);
    await root2.request(sr2, null, 'bar', on1);

    const partitions = async (computerId: string): Promise<Record<string, unknown>> => {
      const computer = await master.getFullComputerInformation(computerId);
      const result: Record<string, unknown> = {};
      for (const partition of computer.partitions) {
        result[partition.getId()] =
          (await partition.getState()) === 'destroyed'
            ? null
            : [
                partition.getInstanceParameter('root_instance_title'),
                partition.getInstanceParameter('instance_title'),
                partition.getInstanceParameter('slap_software_release_url'),
              ];
      }
      return result;
    };
    const check = async (): Promise<void> => {
      assert.deepEqual(await partitions('COMP-0'), {
        slappart0: [name1[0], name1[0], sr1],
        slappart1: [name1[0], name1[1], sr1],
        slappart2: [name2[0], name2[1], sr2],
        slappart3: null,
      });
      assert.deepEqual(await partitions('COMP-1'), {
        slappart0: [name1[0], name1[2], sr1],
        slappart1: [name2[0], name2[0], sr2],
        slappart2: [name2[0], name2[2], sr2],
        slappart3: null,
      });
    };
    await check();

    const rename = async (partition: SlapPartition, name: string): Promise<void> => {
      const response = await partition.rename(name);
      assert.equal(response.status, 200, response.text);
    };
    // Swap the names of the first tree's children…
    name1[1] = 'tmp';
    await rename(sub1[0], name1[1]);
    name1[2] = name2[1] ?? '';
    await rename(sub1[1], name1[2]);
    name1[1] = name2[2] ?? '';
    await rename(sub1[0], name1[1]);
    // … and rename the whole second tree.
    name2[0] = 'MyOtherInstance';
    await rename(root2, name2[0]);
    await check();
  });
});

test('TestMultiNodeSupport.test_multi_node_support_change_instance_state', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(6, 'COMP-0');
    await master.formatForNumberOfPartitions(6, 'COMP-1');
    const on0 = { filter: { computer_guid: 'COMP-0' } };
    await master.request(SR, null, 'MyFirstInstance', 'slappart0', on0);
    await master.request(SR, null, 'MySecondInstance', 'slappart0', { filter: { computer_guid: 'COMP-1' } });
    await master.request(SR, null, 'MyFirstInstance', 'slappart0', { ...on0, state: 'stopped' });
    const statesOf = async (computerId: string): Promise<string[]> => {
      const computer = await master.getFullComputerInformation(computerId);
      return Promise.all(computer.partitions.slice(0, 2).map((partition) => partition.getState()));
    };
    assert.deepEqual(await statesOf('COMP-0'), ['stopped', 'destroyed']);
    assert.deepEqual(await statesOf('COMP-1'), ['started', 'destroyed']);
  });
});

test('TestMultiNodeSupport.test_multi_node_support_same_reference', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2, 'COMP-0');
    await master.formatForNumberOfPartitions(2, 'COMP-1');
    await master.request(SR, null, 'MyFirstInstance', 'slappart0', { filter: { computer_guid: 'COMP-0' } });
    // Once an instance is on a node, a changed SLA does not move it.
    const partition = await master.request(SR, null, 'MyFirstInstance', 'slappart0', {
      filter: { computer_guid: 'COMP-1' },
    });
    assert.equal(partition.computerId, 'COMP-0');
    assert.deepEqual(await releasesOf(master, 'COMP-1'), [null, null]);
  });
});

test('TestMultiNodeSupport.test_multi_node_support_slave_instance', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2, 'COMP-0');
    await master.formatForNumberOfPartitions(2, 'COMP-1');
    await master.formatForNumberOfPartitions(2);
    await master.request('http://sr2//', null, 'MyFirstInstance', 'slappart0', {
      filter: { computer_guid: 'COMP-0' },
    });
    await master.request(SR, null, 'MyOtherInstance', 'slappart0', { filter: { computer_guid: 'COMP-1' } });
    // Without an SLA: the default node has no host.
    let response = await master.requestRaw(SR, null, 'MySlaveInstance', 'slappart2', { shared: true });
    assert.equal(response.status, 404, response.text);
    // On a node with no host of that software release.
    response = await master.requestRaw(SR, null, 'MySlaveInstance', 'slappart2', {
      shared: true,
      filter: { computer_guid: 'COMP-0' },
    });
    assert.equal(response.status, 404, response.text);
    // On the right node.
    const partition = await master.request(SR, null, 'MySlaveInstance', 'slappart2', {
      shared: true,
      filter: { computer_guid: 'COMP-1' },
    });
    assert.equal(partition.computerId, 'COMP-1');
  });
});

test('TestMultiNodeSupport.test_multi_node_support_instance_guid', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2, 'COMP-0');
    await master.formatForNumberOfPartitions(2, 'COMP-1');
    await master.formatForNumberOfPartitions(2);
    const onComputer0 = await master.request('http://sr2//', null, 'MyFirstInstance', 'slappart0', {
      filter: { computer_guid: 'COMP-0' },
    });
    const onComputer1 = await master.request(SR, null, 'MyOtherInstance', 'slappart0', {
      filter: { computer_guid: 'COMP-1' },
    });
    const onDefault = await master.request(SR, null, 'MyThirdInstance', 'slappart0');
    assert.equal(await onComputer0.getInstanceGuid(), 'COMP-0-slappart0');
    assert.equal(await onComputer1.getInstanceGuid(), 'COMP-1-slappart0');
    assert.equal(await onDefault.getInstanceGuid(), 'computer-slappart0');
  });
});

test('TestMultiNodeSupport.test_multi_node_support_getComputerInformation', async () => {
  await withLegacyMaster(async (master) => {
    const newComputerId = `${DEFAULT_COMPUTER}42`;
    // Not registered: the client's NotFoundError, i.e. a 404.
    let response = await master.get(`/getComputerInformation?computer_id=${newComputerId}42`);
    assert.equal(response.status, 404, response.text);
    // The default node answers even before it is registered.
    response = await master.get(`/getComputerInformation?computer_id=${DEFAULT_COMPUTER}`);
    assert.equal(response.status, 200, response.text);
    await master.formatForNumberOfPartitions(1, newComputerId);
    response = await master.get(`/getComputerInformation?computer_id=${newComputerId}`);
    assert.equal(response.status, 200, response.text);
  });
});
