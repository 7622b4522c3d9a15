import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SlapError } from '../core/errors.ts';
import { tempDir } from '../testing/buildout.ts';
import { HOSTILE_PIECES, hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { loadProfile } from './engine.ts';
import { profileListOption, profileOption, profileWord } from './profile-text.ts';

function refused(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (error) {
    assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_PROFILE', String(error));
    return true;
  }
}

test('a value written into a profile reads back exactly through the engine, or is refused', async () => {
  const dir = await tempDir();
  try {
    const random = seededRandom(7);
    const values = [
      ...HOSTILE_PIECES.flatMap((piece) => [piece, `a${piece}b`]),
      ...Array.from({ length: 1500 }, () => hostileString(random, 6)),
    ];
    const accepted: string[] = [];
    const lines = ['[buildout]', 'parts =', '[s]'];
    for (const value of values) {
      if (refused(() => profileOption('k', value))) continue;
      lines.push(profileOption(`k${accepted.length}`, value));
      accepted.push(value);
    }
    const lists = [accepted.filter((v) => v !== '').slice(0, 50), ['/opt/shared', 'a b', '${x}']];
    for (const [index, list] of lists.entries()) lines.push(profileListOption(`list${index}`, list));
    await writeFile(join(dir.path, 'buildout.cfg'), `${lines.join('\n')}\n`);
    const profile = await loadProfile({ configFile: join(dir.path, 'buildout.cfg') });
    for (const [index, value] of accepted.entries())
      assert.equal(await profile.get('s', `k${index}`), value, JSON.stringify(value));
    for (const [index, list] of lists.entries())
      assert.equal(await profile.get('s', `list${index}`), list.join('\n'));
    // Ordinary values are accepted, written as they are.
    for (const value of ['https://example.com/software.cfg?a=b#c', '/srv/pki/slappart3.key', 'COMP-1', 'x y'])
      assert.equal(profileOption('k', value), `k = ${value}`);
    assert.ok(accepted.length > values.length / 10, `only ${accepted.length} accepted`);
  } finally {
    await dir.remove();
  }
});

test('values a profile cannot hold are refused with the option named', () => {
  for (const value of ['a\rb', 'a\nb', 'a\u2028b', 'a\x85b', 'a\0b', ' lead', 'trail ', 'a$${b', '\ud800'])
    assert.throws(() => profileOption('software-release-url', value), /cannot write software-release-url/);
  assert.throws(() => profileListOption('shared-part-list', ['/a', '']), /empty item/);
  for (const value of ['http://x/a b', 'a\tb', '', 'a\x1cb'])
    assert.throws(() => profileWord('extends', value), /cannot write extends/);
  assert.equal(profileWord('extends', 'file:///a/${b}$${c}'), 'file:///a/${b}$${c}');
});
