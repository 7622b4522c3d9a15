import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HOSTILE_PIECES, LINE_TERMINATORS, hostileString, seededRandom } from '../testing/hostile-strings.ts';
import {
  InstalledFile,
  formatInstalled,
  formatOption,
  parseInstalled,
  type InstalledRecord,
} from './installed.ts';

const INJECTION =
  'x\r[buildout]\rparts = evil\r[evil]\rrecipe = none\r__buildout_installed__ = /tmp/victim\r[zzz-tail]\rk = v';

function randomRecord(random: () => number): InstalledRecord {
  const parts = [
    ...new Set(Array.from({ length: Math.floor(random() * 4) }, () => hostileString(random, 6))),
  ].filter((name) => name !== 'buildout');
  const options = new Map<string, Record<string, string>>();
  for (const part of parts) {
    const entries = Array.from({ length: Math.floor(random() * 5) }, () => [
      hostileString(random, 5),
      hostileString(random),
    ]);
    options.set(part, Object.fromEntries(entries) as Record<string, string>);
  }
  const extra = Object.fromEntries(
    Array.from({ length: Math.floor(random() * 3) }, () => [hostileString(random, 4), hostileString(random)]),
  ) as Record<string, string>;
  delete extra.parts;
  extra.installed_develop_eggs ??= '';
  return { parts, options, extra };
}

/** Lines as any reader may split them (Python's str.splitlines is the widest). */
function physicalLines(text: string): string[] {
  return text.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/);
}

test('any record (values, keys, part names) reads back exactly as written', () => {
  for (let seed = 1; seed <= 3000; seed++) {
    const record = randomRecord(seededRandom(seed));
    const text = formatInstalled(record);
    let back: InstalledRecord;
    try {
      back = parseInstalled(text, 'r.cfg');
    } catch (error) {
      assert.fail(`seed ${seed}: ${(error as Error).message}`);
    }
    assert.deepEqual(back, record, `seed ${seed}`);
    // The only line break written is \n, and only one section header per section.
    const headers = physicalLines(text).filter((line) => line.startsWith('['));
    assert.equal(headers.length, record.parts.length + 1, `seed ${seed}`);
  }
});

test('every hostile piece alone, and the injection string, round-trip as a value and as a key', () => {
  for (const piece of [...HOSTILE_PIECES, INJECTION, ` ${INJECTION}\n`, '', ' ', '\n', '\n\n']) {
    for (const around of [piece, `a${piece}`, `${piece}b`, `a${piece}b`, `${piece}${piece}`]) {
      const record: InstalledRecord = {
        parts: ['part'],
        options: new Map([['part', { recipe: 'r', value: around, [around]: 'k' }]]),
        extra: { installed_develop_eggs: '' },
      };
      const text = formatInstalled(record);
      assert.deepEqual(parseInstalled(text, 'r.cfg'), record, JSON.stringify(around));
      assert.equal(physicalLines(text).filter((line) => line.startsWith('[')).length, 2);
    }
  }
});

test('the injection string stays one value: no [evil] section, no other path recorded', () => {
  const record: InstalledRecord = {
    parts: ['hello'],
    options: new Map([['hello', { 'configuration.name': INJECTION, __buildout_installed__: '' }]]),
    extra: { installed_develop_eggs: '' },
  };
  const back = parseInstalled(formatInstalled(record), 'r.cfg');
  assert.deepEqual(back.parts, ['hello']);
  assert.deepEqual([...back.options.keys()], ['hello']);
  assert.equal(back.options.get('hello')?.['configuration.name'], INJECTION);
  for (const terminator of LINE_TERMINATORS.filter((t) => t !== '\n'))
    assert.ok(!formatInstalled(record).includes(terminator), JSON.stringify(terminator));
});

test('ordinary values are written as buildout writes them', () => {
  assert.equal(formatOption('a', 'plain value'), 'a = plain value\n');
  assert.equal(formatOption('a', ''), 'a = \n');
  assert.equal(
    formatOption('a', 'l1\nl2\n  l3'),
    'a = l1\n\tl2\n\t%(__buildout_space__)s%(__buildout_space__)sl3\n',
  );
  assert.equal(formatOption('a', ' x '), 'a = %(__buildout_space__)sx%(__buildout_space__)s\n');
  assert.equal(formatOption('a', '\nx\n'), 'a = %(__buildout_space_n__)sx%(__buildout_space_n__)s\n');
  assert.equal(formatOption('a', 'x\n\ny'), 'a = x\n\t%(__buildout_space_n__)sy\n');
  assert.equal(formatOption('port', '8080'), 'port = 8080\n');
  assert.equal(formatOption('url', 'http://[::1]:80/a?b=c#d;e'), 'url = http://[::1]:80/a?b=c#d;e\n');
});

test('a record written by buildout (escapes, continuation lines) is read', () => {
  const text = [
    '[buildout]',
    'installed_develop_eggs = ',
    'parts = a',
    '',
    '[a]',
    '__buildout_installed__ = /p/a',
    '\t/p/b',
    'lead = %(__buildout_space__)sx',
    'percent = 100%(not a token)',
    'recipe = r',
    '',
  ].join('\n');
  const record = parseInstalled(text, 'r.cfg');
  assert.deepEqual(record.parts, ['a']);
  assert.deepEqual(record.options.get('a'), {
    __buildout_installed__: '/p/a\n/p/b',
    lead: ' x',
    percent: '100%(not a token)',
    recipe: 'r',
  });
});

test('an unreadable record (as older versions wrote) is treated as lost and reported', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'installed-'));
  try {
    const path = join(dir, '.installed.cfg');
    await writeFile(path, '[buildout]\nparts = a\n[a]\nname = x\rnot an option\n');
    const reported: string[] = [];
    const file = new InstalledFile(path, { onUnreadable: (error) => reported.push(error.code) });
    assert.deepEqual(await file.read(), { parts: [], options: new Map(), extra: {} });
    assert.deepEqual(reported, ['SLAP_ERR_PROFILE_SYNTAX']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
