import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadApiSpec, loadExperimentalApiSpec, type ApiRequest } from './index.ts';

test('the contract loads with its 24 stable paths and 1 experimental path, all POST', () => {
  const stable = loadApiSpec();
  assert.equal(stable.info.version, '0.0.3');
  assert.equal(Object.keys(stable.paths).length, 24);
  for (const operation of Object.values(stable.paths)) assert.ok(operation.post);
  assert.deepEqual(Object.keys(loadExperimentalApiSpec().paths), ['/slapos.allDocs.WIP.compute_node_list']);
  const body: ApiRequest<'/slapos.get.v0.software_instance'> = { instance_guid: 'x______0' };
  assert.equal(body.instance_guid, 'x______0');
});
