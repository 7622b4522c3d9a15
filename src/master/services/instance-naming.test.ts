import assert from 'node:assert/strict';
import { test } from 'node:test';
import { masterNaming, proxyNaming } from './instance-naming.ts';

const location = { computeNodeId: 'COMP-0', partitionId: 'slappart3' };

test("proxy mode: slapproxy's legacy names (the partition, `<root>_<title>`) and back", () => {
  assert.equal(proxyNaming.legacyGuidOf(location), 'COMP-0-slappart3');
  assert.equal(proxyNaming.legacyGuidOf(location, 'MyInstance______0'), 'COMP-0-slappart3');
  const shared = { id: 7, title: 'front', requestedBy: 'root', shared: true };
  const reference = proxyNaming.slaveReferenceOf(shared);
  assert.equal(reference, 'root_front');
  assert.equal(proxyNaming.sharedGuidOfReference(reference), proxyNaming.guidOf(shared));
  assert.equal(proxyNaming.sharedGuidOfReference('_front'), 'front______1');
  assert.equal(proxyNaming.sharedGuidOfReference('nounderscore'), undefined);
});

test("master mode: SlapOS's master names (SOFTINST-n) both ways; a free partition by its location", () => {
  assert.equal(masterNaming.legacyGuidOf(location), 'COMP-0-slappart3');
  assert.equal(masterNaming.legacyGuidOf(location, 'SOFTINST-12'), 'SOFTINST-12');
  const shared = { id: 12, title: 'front', requestedBy: '', shared: true };
  assert.equal(masterNaming.slaveReferenceOf(shared), 'SOFTINST-12');
  assert.equal(masterNaming.sharedGuidOfReference('SOFTINST-12'), 'SOFTINST-12');
  assert.equal(masterNaming.sharedGuidOfReference('_front'), undefined);
  assert.equal(masterNaming.sharedGuidOfReference('SOFTINST-0'), undefined);
});
