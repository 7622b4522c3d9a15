/**
 * The master's sync answer is checked before use: what it says becomes directory names, password
 * files and restic arguments. Hostile values are refused, naming the field and never the value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { checkRepositoryUrl, parseSyncAnswer, REPOSITORY_NAME } from './sync-protocol.ts';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIB+/=\n-----END CERTIFICATE-----\n';

function answer(partition: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    heartbeat_interval: 5,
    partition_list: [
      {
        partition_id: 'slappart0',
        instance_guid: 'SOFTINST-1',
        repository: 'tree-17',
        password: 'c2VjcmV0LXBhc3N3b3Jk',
        role: 'main',
        epoch: 3,
        targets: [{ computer_guid: 'COMP-2', url: 'https://10.0.0.2:8700', certificate: CERT }],
        writers: ['COMP-1'],
        backup_requested_at: 1733600000.1,
        restore_request: { request_id: 'r1', backup_id: '20261207T203015123Z-a1b2' },
        ...partition,
      },
    ],
  };
}

test('a valid answer round-trips', () => {
  const parsed = parseSyncAnswer(answer());
  assert.deepEqual(parsed, answer());
  assert.deepEqual(
    parseSyncAnswer(answer({ restore_request: null, backup_requested_at: null })).partition_list[0]
      ?.restore_request,
    null,
  );
});

test('hostile values of every checked field are refused, without showing them', () => {
  const random = seededRandom(12);
  for (let i = 0; i < 300; i++) {
    const value = hostileString(random);
    for (const field of ['repository', 'partition_id', 'instance_guid', 'role']) {
      let parsed: unknown;
      try {
        parsed = parseSyncAnswer(answer({ [field]: value }));
      } catch (error) {
        assert.ok(!(error as Error).message.includes(value) || value.length < 2, field);
        continue;
      }
      // Accepted only when it is a plain identifier of the field's kind.
      if (field === 'repository') assert.match(value, REPOSITORY_NAME);
      else if (field === 'role') assert.ok(['main', 'clone', 'fenced', 'single'].includes(value));
      else assert.match(value, /^[\x21-\x7e]+$/);
      assert.ok(parsed);
    }
  }
});

test('passwords with line terminators or NUL are refused and never shown', () => {
  for (const bad of ['', 'a\nb', 'a\rb', 'a\0b', 'a\u2028b', 'a\x85b', 'a\vb', 'x'.repeat(1025)]) {
    assert.throws(
      () => parseSyncAnswer(answer({ password: bad })),
      (error: Error) => /password/.test(error.message) && (bad.length < 2 || !error.message.includes(bad)),
    );
  }
});

test('repository names, roles, epochs, urls, certificates and backup ids are checked', () => {
  for (const repository of ['tree-', 'tree-1/..', '../tree-1', 'tree-1234567890123456789', 'TREE-1'])
    assert.throws(() => parseSyncAnswer(answer({ repository })), /repository/);
  assert.throws(() => parseSyncAnswer(answer({ role: 'master' })), /role/);
  assert.throws(() => parseSyncAnswer(answer({ epoch: -1 })), /epoch/);
  assert.throws(() => parseSyncAnswer(answer({ epoch: 1.5 })), /epoch/);
  assert.throws(
    () =>
      parseSyncAnswer(
        answer({ restore_request: { request_id: 'r', backup_id: '20261331T000000000Z-abcd' } }),
      ),
    /backup_id/,
  );
  assert.throws(
    () =>
      parseSyncAnswer(answer({ targets: [{ computer_guid: 'C', url: 'https://h:1', certificate: 'x' }] })),
    /certificate/,
  );
  assert.throws(() => parseSyncAnswer({ heartbeat_interval: 0, partition_list: [] }), /heartbeat/);
  assert.throws(() => parseSyncAnswer([]), /answer/);
  const twice = answer();
  (twice.partition_list as unknown[]).push((twice.partition_list as unknown[])[0]);
  assert.throws(() => parseSyncAnswer(twice), /twice/);
});

test('repository urls are https://HOST:PORT only', () => {
  assert.equal(checkRepositoryUrl('https://10.0.0.2:8700', 'u'), 'https://10.0.0.2:8700');
  assert.equal(checkRepositoryUrl('https://[::1]:8700/', 'u'), 'https://[::1]:8700');
  for (const url of [
    'http://10.0.0.2:8700',
    'https://user:pw@10.0.0.2:8700',
    'https://10.0.0.2:8700/tree-1',
    'https://10.0.0.2:8700?x=1',
    'https://10.0.0.2:8700#x',
    'file:///etc',
    'https://10.0.0.2:8700\n',
    'not a url',
  ])
    assert.throws(() => checkRepositoryUrl(url, 'u'), /u/, url);
});
