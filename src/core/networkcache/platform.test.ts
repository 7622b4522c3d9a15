import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isCompatible,
  matchingPrefix,
  multiarchFor,
  osMatches,
  osTripleFromOsRelease,
  prefixList,
} from './platform.ts';

test('os triples match as slapos.core normalises them', () => {
  assert.equal(osMatches(['debian', '12.5', 'bookworm'], ['debian', '12', '']), true);
  assert.equal(osMatches(['Raspbian', '12', 'x'], ['debian', '12.1', 'y']), true);
  assert.equal(osMatches(['debian', '11', ''], ['debian', '12', '']), false);
  assert.equal(osMatches(['Ubuntu', '22.04', 'jammy'], ['ubuntu', '22.04', 'jammy']), true);
  assert.equal(
    osMatches(['ubuntu', '22.04', 'jammy'], ['ubuntu', '22.04', '']),
    false,
    'codename counts outside debian',
  );
  assert.equal(osMatches(['ubuntu', '22.04', 'jammy'], ['ubuntu', '22.4', 'jammy']), false);
  const local = { multiarch: 'x86_64-linux-gnu', os: ['debian', '12', 'bookworm'] as const };
  assert.equal(isCompatible(local, { multiarch: 'x86_64-linux-gnu', os: ['debian', '12.4', ''] }), true);
  assert.equal(isCompatible(local, { multiarch: 'aarch64-linux-gnu', os: ['debian', '12', ''] }), false);
});

test('/etc/os-release gives [ID, VERSION_ID, VERSION_CODENAME]', () => {
  const text =
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';
  assert.deepEqual(osTripleFromOsRelease(text), ['debian', '12', 'bookworm']);
  assert.deepEqual(osTripleFromOsRelease("ID='Alpine'\n"), ['alpine', '', '']);
  assert.deepEqual(osTripleFromOsRelease(''), ['', '', '']);
});

test('multiarch as gcc -dumpmachine prints it', () => {
  assert.equal(multiarchFor('x64'), 'x86_64-linux-gnu');
  assert.equal(multiarchFor('arm64'), 'aarch64-linux-gnu');
  assert.equal(multiarchFor('x64', 'musl'), 'x86_64-linux-musl');
  assert.equal(multiarchFor('arm'), 'arm-linux-gnueabihf');
  assert.equal(multiarchFor('mips'), undefined);
});

test('prefix lists: one prefix a line, blank lines dropped, startswith match', () => {
  const list = prefixList('\n  http://git.example/master/  \n\n/\n');
  assert.deepEqual(list, ['http://git.example/master/', '/']);
  assert.equal(matchingPrefix('/srv/project/software.cfg', list), '/');
  assert.equal(matchingPrefix('http://git.example/master/software.cfg', list), 'http://git.example/master/');
  assert.equal(matchingPrefix('https://other/software.cfg', list), undefined);
  assert.deepEqual(prefixList(undefined), []);
});
