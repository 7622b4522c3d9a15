import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from './errors.ts';
import { formatFromJson, formatFromLegacyComputer } from './format-plan.ts';

test('the JSON format and the legacy computer dict give the same partitions and addresses', () => {
  const legacy = formatFromLegacyComputer({
    reference: 'COMP-0',
    address: '10.0.0.1',
    netmask: '255.255.255.0',
    software_user: 'slapsoft',
    partition_list: [
      {
        reference: 'slappart0',
        tap: { name: 'slaptap0', ipv4_addr: '' },
        address_list: [
          { addr: '10.0.0.10', netmask: '255.255.255.0' },
          { addr: 'fd00::10', netmask: 'ffff:ffff:ffff:ffff::' },
        ],
        user: { name: 'slapuser0' },
      },
      {
        reference: 'slappart1',
        tap: { name: '' },
        address_list: [{ addr: '10.0.0.11', netmask: '255.255.255.0' }],
      },
      { reference: 'slappart2', address_list: [] },
    ],
  });
  const json = formatFromJson({
    computer_guid: 'COMP-0',
    compute_partition_list: [
      {
        partition_id: 'slappart0',
        ip_list: [
          { 'ip-address': '10.0.0.10', 'network-interface': 'slaptap0', netmask: '255.255.255.0' },
          { 'ip-address': 'fd00::10', 'network-interface': 'slaptap0', netmask: 'ffff:ffff:ffff:ffff::' },
        ],
      },
      { partition_id: 'slappart1', ip_list: [{ 'ip-address': '10.0.0.11', netmask: '255.255.255.0' }] },
      { partition_id: 'slappart2', ip_list: [] },
    ],
  });
  assert.deepEqual(json.partitions, legacy.partitions);
  assert.equal(json.computeNodeId, legacy.computeNodeId);
  assert.deepEqual(legacy.partitions[1], {
    reference: 'slappart1',
    addresses: [{ networkInterface: 'slappart1', address: '10.0.0.11', netmask: '255.255.255.0' }],
  });
  // Only the legacy payload carries the node's own address.
  assert.deepEqual(
    [legacy.address, legacy.netmask, json.address, json.netmask],
    ['10.0.0.1', '255.255.255.0', null, null],
  );
});

test('format plans refuse duplicates, traversal and malformed payloads', () => {
  const invalid = (work: () => unknown): void =>
    assert.throws(work, (error: unknown) => error instanceof SlapError && error.status === 400);
  invalid(() =>
    formatFromJson({
      computer_guid: 'c',
      compute_partition_list: [{ partition_id: 'a' }, { partition_id: 'a' }],
    }),
  );
  invalid(() => formatFromJson({ computer_guid: 'c', compute_partition_list: [{ partition_id: '../a' }] }));
  invalid(() =>
    formatFromLegacyComputer({ reference: 'c', partition_list: [{ reference: 'a', tap: 'slaptap0' }] }),
  );
  invalid(() => formatFromLegacyComputer({ reference: 'c', partition_list: 'x' }));
  invalid(() => formatFromLegacyComputer(['c']));
  invalid(() =>
    formatFromLegacyComputer({ reference: 'c', partition_list: [{ reference: 'a', address_list: [{}] }] }),
  );
});
