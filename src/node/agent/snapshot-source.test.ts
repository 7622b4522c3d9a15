import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMasterClient } from '../../client/master-api.ts';
import { startMasterWithNode } from '../../testing/master-with-node.ts';
import { fixedStateSource, SnapshotStateSource } from './snapshot-source.ts';

test('the snapshot source reads the node state in one call, with precise settled markers', async () => {
  const env = await startMasterWithNode({ computerGuid: 'COMP-S', partitions: 2 });
  try {
    await env.client.supply({ softwareReleaseUri: 'http://sr/a.cfg', computerGuid: 'COMP-S' });
    await env.client.requestInstance({
      title: 'one',
      softwareReleaseUri: 'http://sr/a.cfg',
      softwareType: 'web',
      slaParameters: { computer_guid: 'COMP-S' },
    });
    let calls = 0;
    const counting = createMasterClient({ api: 'json', masterUrl: env.url });
    const master = {
      readNodeSnapshot: (guid: string) => {
        calls++;
        return counting.readNodeSnapshot(guid);
      },
    };
    const source = new SnapshotStateSource(master, 'COMP-S');
    const state = await source.read({});
    assert.equal(calls, 1);
    assert.deepEqual(state.software, [{ url: 'http://sr/a.cfg', state: 'available' }]);
    const [partition] = state.partitions ?? [];
    assert.ok(partition);
    assert.deepEqual(
      { ...partition, marker: undefined },
      {
        partitionId: 'slappart0',
        instanceGuid: 'one______0',
        title: 'one',
        requestedState: 'started',
        softwareReleaseUrl: 'http://sr/a.cfg',
        softwareType: 'web',
        marker: undefined,
        settled: true,
      },
    );
    assert.match(partition.marker, /^\d+\.\d+$/, 'the precise timestamp, as the legacy API prints it');
    assert.deepEqual(Object.keys(await source.read({ software: false })), ['partitions']);
    assert.deepEqual(Object.keys(await source.read({ partitions: false })), ['software']);
    const { revision } = await source.readSnapshot();
    assert.ok(revision > 0);
    await counting.close();

    const fixed = fixedStateSource(state);
    assert.deepEqual(await fixed.read({ software: false }), { partitions: state.partitions });
  } finally {
    await env.close();
  }
});
