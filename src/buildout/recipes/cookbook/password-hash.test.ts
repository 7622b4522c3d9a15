import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hashPassword, md5Crypt, shaCrypt } from './password-hash.ts';

test('shaCrypt and md5Crypt give the published vectors (Drepper specification, openssl passwd)', () => {
  assert.equal(
    shaCrypt('sha256', 'Hello world!', { salt: 'saltstring' }),
    '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
  );
  assert.equal(
    shaCrypt('sha256', 'Hello world!', { salt: 'saltstringsaltstring', rounds: 10000 }),
    '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
  );
  assert.equal(
    shaCrypt('sha512', 'Hello world!', { salt: 'saltstring' }),
    '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
  );
  assert.equal(
    shaCrypt('sha512', 'we have a short salt string but not a short password', {
      salt: 'short',
      rounds: 77777,
    }),
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
  );
  assert.equal(md5Crypt('password', { salt: 'saltsalt' }), '$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/');
  assert.equal(
    md5Crypt('a much longer password over sixteen bytes', { salt: 'ab' }),
    '$1$ab$AGB5rPMOFupD9bCMN/kr8/',
  );
});

test('hashPassword: LDAP schemes carry their salt after the digest; unknown schemes give undefined', () => {
  const ssha = hashPassword('ldap-salted-sha1', 'secret') ?? '';
  assert.match(ssha, /^\{SSHA\}/);
  const raw = Buffer.from(ssha.slice('{SSHA}'.length), 'base64');
  assert.equal(raw.length, 20 + 4);
  const salt = raw.subarray(20);
  assert.deepEqual(raw.subarray(0, 20), createHash('sha1').update('secret').update(salt).digest());
  assert.equal(
    hashPassword('ldap-sha1', 'secret'),
    `{SHA}${createHash('sha1').update('secret').digest('base64')}`,
  );
  const md5 = hashPassword('md5-crypt', 'secret') ?? '';
  assert.equal(md5Crypt('secret', { salt: md5.split('$')[2] ?? '' }), md5);
  assert.equal(hashPassword('bcrypt', 'secret'), undefined);
  assert.equal(hashPassword('constructor', 'secret'), undefined);
});
