import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatInstanceGuid,
  parseInstanceGuid,
  parseSharedReference,
  rootTitleOf,
  sharedReference,
} from './instance-guid.ts';
import { SlapError } from './errors.ts';

test('instance guids format and parse as slapproxy does', () => {
  assert.equal(
    formatInstanceGuid({ title: 'MyFirstInstance', requestedBy: '', shared: false }),
    'MyFirstInstance______0',
  );
  assert.equal(
    formatInstanceGuid({ title: 'Child', requestedBy: 'Root', shared: false }),
    'Child___Root___0',
  );
  assert.equal(formatInstanceGuid({ title: 'S', requestedBy: '', shared: true }), 'S______1');
  assert.deepEqual(parseInstanceGuid('MyFirstInstance______0'), {
    owner: '',
    title: 'MyFirstInstance',
    requestedBy: '',
    shared: false,
  });
  assert.deepEqual(parseInstanceGuid('Child___Root___1'), {
    owner: '',
    title: 'Child',
    requestedBy: 'Root',
    shared: true,
  });
  // split at most twice: the third part keeps further separators and must then be an integer
  assert.throws(() => parseInstanceGuid('a___b___c___1'), SlapError);
  assert.deepEqual(parseInstanceGuid('a___b___ +02 '), {
    owner: '',
    title: 'a',
    requestedBy: 'b',
    shared: true,
  });
  assert.deepEqual(parseInstanceGuid('a___b___-0'), {
    owner: '',
    title: 'a',
    requestedBy: 'b',
    shared: false,
  });
  assert.deepEqual(parseInstanceGuid('a___b___1_0'), {
    owner: '',
    title: 'a',
    requestedBy: 'b',
    shared: true,
  });
});

test('a malformed guid is the 403 "instance_guid X not handled."', () => {
  for (const guid of ['foo', 'a___b', 'a___b___', 'a___b___x', 'a___b___1.0', '']) {
    assert.throws(
      () => parseInstanceGuid(guid),
      (error: unknown) =>
        error instanceof SlapError &&
        error.status === 403 &&
        error.message === `instance_guid ${guid} not handled.`,
    );
  }
});

test('shared references and root titles', () => {
  assert.equal(sharedReference({ title: 'MyShared', requestedBy: '' }), '_MyShared');
  assert.equal(sharedReference({ title: 'S', requestedBy: 'MyRoot' }), 'MyRoot_S');
  assert.deepEqual(parseSharedReference('_MyShared'), { title: 'MyShared', requestedBy: '' });
  assert.deepEqual(parseSharedReference('My_Root_S'), { title: 'Root_S', requestedBy: 'My' });
  assert.equal(rootTitleOf({ title: 'A', requestedBy: '' }), 'A');
  assert.equal(rootTitleOf({ title: 'A', requestedBy: 'R' }), 'R');
});
