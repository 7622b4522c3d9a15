import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIni } from './ini.ts';

test('parses sections, continuation lines, comments and interpolation like ConfigParser', () => {
  const doc = parseIni(
    [
      '# comment',
      '[DEFAULT]',
      'root = /srv',
      '[slapos]',
      'Computer_ID = COMP-1',
      'instance_root = %(root)s/slapgrid',
      'list =',
      '  a',
      '  b',
      '; other comment',
      'pct = 100%%',
      '[slapproxy]',
      'port: 8080',
    ].join('\n'),
  );
  assert.deepEqual(doc.sections(), ['slapos', 'slapproxy']);
  assert.equal(doc.get('slapos', 'computer_id'), 'COMP-1');
  assert.equal(doc.get('slapos', 'instance_root'), '/srv/slapgrid');
  assert.equal(doc.get('slapos', 'list'), '\na\nb');
  assert.equal(doc.get('slapos', 'pct'), '100%');
  assert.equal(doc.get('slapproxy', 'port'), '8080');
  assert.equal(doc.get('slapproxy', 'root'), '/srv');
  assert.equal(doc.get('missing', 'x'), undefined);
});

test('reports unknown interpolation and garbage with the line', () => {
  assert.throws(() => parseIni('[a]\nx = %(nope)s').get('a', 'x'), /unknown option/);
  assert.throws(() => parseIni('[a]\n???'), /:2: cannot parse/);
  assert.throws(() => parseIni('x = 1'), /outside of any section/);
});
