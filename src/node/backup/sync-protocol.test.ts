/**
 * The master's sync answer is checked before use: what it says becomes directory names, password
 * files and restic arguments. Hostile values are refused, naming the field and never the value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import {
  checkRepositoryUrl,
  MAX_SOURCE_LOCATIONS,
  parseSyncAnswer,
  REPOSITORY_NAME,
  type RestoreSource,
} from './sync-protocol.ts';

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
        readers: ['COMP-3'],
        backup_requested_at: 1733600000.1,
        restore_request: { request_id: 'r1', backup_id: '20261207T203015123Z-a1b2', source: null },
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

const SOURCE: RestoreSource = {
  repository: 'tree-4',
  password: 'c291cmNlLXBhc3N3b3Jk',
  locations: [
    { computer_guid: 'COMP-4', url: 'https://127.0.0.4:8700', certificate: CERT },
    { computer_guid: 'COMP-5', url: null, certificate: null },
  ],
};

/** The answer with a restore of `source` (fields over SOURCE). */
function withSource(source: Record<string, unknown>): Record<string, unknown> {
  return answer({ restore_request: { request_id: 'r2', backup_id: null, source: { ...SOURCE, ...source } } });
}

/** The answer with a restore from one location (fields over SOURCE's first). */
function withLocation(location: Record<string, unknown>): Record<string, unknown> {
  return withSource({ locations: [{ ...SOURCE.locations[0], ...location }] });
}

test('a restore source and readers round-trip; absent (an older master) they are null and empty', () => {
  for (const value of [withSource({}), withSource({ locations: [] })])
    assert.deepEqual(parseSyncAnswer(value), value);
  const many = withSource({
    locations: Array.from({ length: MAX_SOURCE_LOCATIONS }, (_, k) => ({
      computer_guid: `COMP-${k}`,
      url: `https://127.0.0.${k + 1}:8700`,
      certificate: CERT,
    })),
  });
  assert.deepEqual(parseSyncAnswer(many), many);
  const older = answer({ restore_request: { request_id: 'r1', backup_id: null } });
  const partition = (older.partition_list as Record<string, unknown>[])[0]!;
  delete partition.readers;
  const parsed = parseSyncAnswer(older).partition_list[0];
  assert.deepEqual(parsed?.readers, []);
  assert.equal(parsed?.restore_request?.source, null);
});

test('hostile restore sources are refused, naming the field and never the value', () => {
  const refused = (value: Record<string, unknown>, field: RegExp, shown?: string): void => {
    assert.throws(
      () => parseSyncAnswer(value),
      (error: Error) =>
        field.test(error.message) &&
        (shown === undefined || shown.length < 2 || !error.message.includes(shown)),
    );
  };
  for (const repository of ['tree-', 'tree-4/..', '../tree-4', 'tree-1234567890123456789', '', 4, null])
    refused(withSource({ repository }), /source\.repository/);
  for (const password of ['', 'a\nb', 'a\u2028b', 'a\0b', 'x'.repeat(1025), 7, null])
    refused(
      withSource({ password }),
      /source\.password/,
      typeof password === 'string' ? password : undefined,
    );
  refused(
    withSource({ locations: Array.from({ length: MAX_SOURCE_LOCATIONS + 1 }, () => SOURCE.locations[0]) }),
    /source\.locations/,
  );
  refused(withSource({ locations: 'COMP-4' }), /source\.locations/);
  refused(withSource({ locations: null }), /source\.locations/);
  refused(withSource({ locations: ['COMP-4'] }), /locations\[0\]/);
  const long = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(65536)}\n-----END CERTIFICATE-----\n`;
  refused(withLocation({ certificate: long }), /locations\[0\]\.certificate/);
  refused(withLocation({ certificate: 'not a certificate' }), /locations\[0\]\.certificate/);
  refused(withLocation({ certificate: null }), /locations\[0\]\.certificate/); // a URL without its pin
  refused(withLocation({ url: null }), /locations\[0\]\.url/);
  refused(withLocation({ url: 'https://127.0.0.4:8700/tree-1' }), /locations\[0\]\.url/);
  refused(withLocation({ url: `https://${'a'.repeat(600)}:1` }), /locations\[0\]\.url/);
  refused(withSource({ locations: [{ computer_guid: 'COMP-4' }] }), /locations\[0\]\.url/);
  refused(answer({ restore_request: { request_id: 'r', backup_id: null, source: 'tree-4' } }), /source/);
  refused(answer({ restore_request: { request_id: 'r', backup_id: null, source: [] } }), /source/);
  for (const computer_guid of ['', 'COMP 4', 'COMP-4\n', 'COMP\u00074', 'C\u2028', 'x'.repeat(256), 4, null])
    refused(withLocation({ computer_guid }), /locations\[0\]\.computer_guid/);
});

test('property: a location computer_guid or a reader is accepted only as printable ASCII without space', () => {
  const random = seededRandom(21);
  for (let i = 0; i < 300; i++) {
    const value = hostileString(random);
    const cases: [Record<string, unknown>, (parsed: ReturnType<typeof parseSyncAnswer>) => unknown][] = [
      [
        withLocation({ computer_guid: value }),
        (p) => p.partition_list[0]?.restore_request?.source?.locations[0]?.computer_guid,
      ],
      [answer({ readers: [value] }), (p) => p.partition_list[0]?.readers[0]],
    ];
    for (const [candidate, read] of cases) {
      let parsed;
      try {
        parsed = parseSyncAnswer(candidate);
      } catch (error) {
        assert.ok(value.length < 2 || !(error as Error).message.includes(value));
        continue;
      }
      assert.match(value, /^[\x21-\x7e]{1,255}$/);
      assert.equal(read(parsed), value, 'round-trips');
    }
  }
});

test('readers: at most 64 strings of printable ASCII', () => {
  const ids = Array.from({ length: 64 }, (_, k) => `COMP-${k}`);
  assert.deepEqual(parseSyncAnswer(answer({ readers: ids })).partition_list[0]?.readers, ids);
  for (const readers of [[...ids, 'COMP-64'], 'COMP-1', [1], [null], [['COMP-1']], [{}], [''], ['a b'], null])
    assert.throws(() => parseSyncAnswer(answer({ readers })), /readers/, JSON.stringify(readers));
});
