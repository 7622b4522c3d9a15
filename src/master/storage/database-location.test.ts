import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlapError } from '../../core/errors.ts';
import { hostileString, seededChoices, seededRandom } from '../../testing/hostile-strings.ts';
import {
  describeDatabaseLocation,
  parseDatabaseLocation,
  postgresConnection,
  postgresUri,
  type PostgresConnection,
} from './database-location.ts';

const configError = (secret?: string) => (error: unknown) =>
  error instanceof SlapError &&
  error.code === 'SLAP_ERR_CONFIG' &&
  error.message.startsWith('--database: ') &&
  (secret === undefined || (!error.message.includes(secret) && !(error.hint ?? '').includes(secret)));

test('a path or a sqlite: URI is a SQLite file; a relative path is resolved against cwd', () => {
  const where = '--database';
  assert.deepEqual(parseDatabaseLocation('/var/lib/proxy.db', where), {
    kind: 'sqlite',
    path: '/var/lib/proxy.db',
  });
  assert.deepEqual(parseDatabaseLocation('sqlite:////var/lib/proxy.db', where), {
    kind: 'sqlite',
    path: '/var/lib/proxy.db',
  });
  assert.deepEqual(parseDatabaseLocation('sqlite:proxy.db', where), { kind: 'sqlite', path: 'proxy.db' });
  assert.deepEqual(parseDatabaseLocation('sqlite:proxy.db', where, { cwd: '/srv' }), {
    kind: 'sqlite',
    path: '/srv/proxy.db',
  });
  assert.deepEqual(parseDatabaseLocation('./postgresql:/x.db', where, { cwd: '/w' }), {
    kind: 'sqlite',
    path: '/w/postgresql:/x.db',
  });
  assert.deepEqual(parseDatabaseLocation('C:proxy.db', where), { kind: 'sqlite', path: 'C:proxy.db' });
  for (const bad of ['', 'sqlite:', 'a\0b'])
    assert.throws(() => parseDatabaseLocation(bad, where), configError());
});

test('PostgreSQL URIs: TCP, IPv6, unix socket, parameters', () => {
  const cases: [string, PostgresConnection][] = [
    [
      'postgresql://alice:s3cret@db.example:6543/slapos',
      { user: 'alice', password: 's3cret', host: 'db.example', port: 6543, database: 'slapos' },
    ],
    ['postgres://bob@10.0.0.1/m', { user: 'bob', host: '10.0.0.1', database: 'm' }],
    ['POSTGRESQL://bob@[::1]:5432/m', { user: 'bob', host: '::1', port: 5432, database: 'm' }],
    [
      'postgresql://u@/postgres?host=/run/postgresql',
      { user: 'u', host: '/run/postgresql', database: 'postgres' },
    ],
    ['postgresql:///db?host=%2Ftmp%2Fa%20b&port=5433', { host: '/tmp/a b', port: 5433, database: 'db' }],
    ['postgresql://%2Frun%2Fpg/db', { host: '/run/pg', database: 'db' }],
    [
      'postgresql://u@h/d?sslmode=verify-full&application_name=m%201',
      { user: 'u', host: 'h', database: 'd', ssl: 'verify-full', applicationName: 'm 1' },
    ],
    ['postgresql://u:@h/d', { user: 'u', password: '', host: 'h', database: 'd' }],
  ];
  for (const [uri, expected] of cases) {
    assert.deepEqual(parseDatabaseLocation(uri, '--database'), { kind: 'postgres', uri }, uri);
    assert.deepEqual({ ...postgresConnection(uri) }, expected, uri);
  }
});

test('bad PostgreSQL URIs and other schemes are refused without repeating the password', () => {
  for (const uri of [
    'postgresql://alice:s3cret@db.example',
    'postgresql://alice:s3cret@/db',
    'postgresql://alice:s3cret@h:0/db',
    'postgresql://alice:s3cret@h:65536/db',
    'postgresql://alice:s3cret@h:x/db',
    'postgresql://alice:s3cret@h/',
    'postgresql://alice:s3cret@h/db#frag',
    'postgresql://alice:s3cret@h1,h2/db',
    'postgresql://alice:s3cret@bad_host/db',
    'postgresql://alice:s3cret@[zz::1]/db',
    'postgresql://alice:s3cret@[::1/db',
    'postgresql://alice:s3cr@t@h/db',
    'postgresql://alice:s3cret%@h/db',
    'postgresql://alice:s3cret%00@h/db',
    'postgresql://:s3cret@h/db',
    'postgresql://alice:s3cret@h/db?sslmode=prefer',
    'postgresql://alice:s3cret@h/db?password=s3cret',
    'postgresql://alice:s3cret@h/db?host=relative',
    'postgresql://alice:s3cret@h/db?s3cret',
    'mysql://u:s3cret@h/d',
    'http:x',
    'postgresql:s3cret',
  ])
    assert.throws(() => parseDatabaseLocation(uri, '--database'), configError('s3cret'), uri);
});

test('property: every user, password, database and socket directory round-trips through a URI', () => {
  const random = seededRandom(13);
  const choose = seededChoices(14);
  const nonEmpty = (text: string) => text.replaceAll('\0', '') || 'x';
  const hosts = ['db.example', '127.0.0.1', '[::1]', '[2001:db8::7]', 'h-1.x.'];
  let checked = 0;
  for (let i = 0; i < 500; i++) {
    const user = nonEmpty(hostileString(random));
    const password = hostileString(random).replaceAll('\0', '');
    const database = nonEmpty(hostileString(random));
    const socket = `/${hostileString(random).replaceAll('\0', '')}`;
    const port = 1 + choose(65535);
    const viaSocket = choose(2) === 0;
    const host = hosts[choose(hosts.length)] as string;
    const e = encodeURIComponent;
    // Lone surrogates cannot be percent-encoded (UTF-8): such strings are not expressible in a URI.
    let uri: string;
    try {
      uri = viaSocket
        ? `postgresql://${e(user)}:${e(password)}@/${e(database)}?host=${e(socket)}&port=${port}`
        : `postgres://${e(user)}:${e(password)}@${host}:${port}/${e(database)}`;
    } catch {
      continue;
    }
    assert.deepEqual(parseDatabaseLocation(uri, '--database'), { kind: 'postgres', uri });
    assert.deepEqual(
      { ...postgresConnection(uri) },
      {
        user,
        password,
        host: viaSocket ? socket : host.replace(/^\[(.*)\]$/, '$1'),
        port,
        database,
      },
    );
    const connection = postgresConnection(uri);
    assert.deepEqual({ ...postgresConnection(postgresUri(connection)) }, { ...connection });
    const described = describeDatabaseLocation({ kind: 'postgres', uri });
    if (
      password.length > 3 &&
      !user.includes(password) &&
      !database.includes(password) &&
      !socket.includes(password)
    )
      assert.ok(!described.includes(password));
    checked++;
  }
  assert.ok(checked > 100, `only ${checked} URIs checked`);
});

test('property: any string is a location or a SLAP_ERR_CONFIG that does not repeat it', () => {
  const random = seededRandom(15);
  const prefixes = ['', 'postgresql://', 'postgres://', 'sqlite:', 'postgresql://u:SECRETPW@', 'x:'];
  for (let i = 0; i < 2000; i++) {
    const value = prefixes[Math.floor(random() * prefixes.length)] + hostileString(random);
    try {
      const location = parseDatabaseLocation(value, '--database');
      if (location.kind === 'postgres') assert.equal(location.uri, value);
      else assert.ok(location.path.length > 0 && !location.path.includes('\0'));
    } catch (error) {
      assert.ok(configError('SECRETPW')(error), String(error));
    }
  }
});
