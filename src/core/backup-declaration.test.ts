import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DECLARATION_FIELDS,
  DECLARATION_DIRECTORY,
  mergeDeclarations,
  parseDeclaration,
  readDeclarations,
  serializeDeclaration,
  type BackupDeclaration,
} from './backup-declaration.ts';
import { SlapError } from './errors.ts';
import { hostileString, LINE_TERMINATORS, seededRandom } from '../testing/hostile-strings.ts';
import { makeTempDir } from '../testing/node.ts';
import { rejectsWithSlapError, throwsSlapError } from '../testing/slap-error-assert.ts';
import { rm } from 'node:fs/promises';

function declaration(overrides: Partial<BackupDeclaration> = {}): BackupDeclaration {
  return {
    name: 'kv-backup',
    paths: ['srv/kv-backup'],
    exclude: ['*.tmp'],
    backupCommand: '/srv/slapgrid/slappart0/bin/kv-dump',
    restoreCommand: '/srv/slapgrid/slappart0/bin/kv-restore',
    checkCommand: null,
    periodSeconds: 10,
    keep: { last: 10, hourly: 24, daily: 7 },
    ...overrides,
  };
}

/** Serialises `d`: either refused with SLAP_ERR_INVALID_INPUT, or read back equal with the same JSON shape. */
function roundTripOrRefused(d: BackupDeclaration): 'ok' | 'refused' {
  let text: string;
  try {
    text = serializeDeclaration(d);
  } catch (error) {
    assert.ok(error instanceof SlapError, String(error));
    assert.equal(error.code, 'SLAP_ERR_INVALID_INPUT');
    return 'refused';
  }
  const raw = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(raw), DECLARATION_FIELDS);
  assert.equal(raw.version, 1);
  assert.ok(Array.isArray(raw.paths) && raw.paths.every((p) => typeof p === 'string'));
  assert.deepEqual(Object.keys(raw.keep as object), ['last', 'hourly', 'daily']);
  assert.deepEqual(parseDeclaration(text, 'test'), d);
  assert.equal(serializeDeclaration(parseDeclaration(text, 'test')), text);
  return 'ok';
}

test('a declaration round-trips through its JSON file, version 1, fields in a fixed order', () => {
  const d = declaration();
  const text = serializeDeclaration(d);
  assert.deepEqual(JSON.parse(text), { version: 1, ...d });
  assert.equal(roundTripOrRefused(d), 'ok');
  assert.equal(roundTripOrRefused(declaration({ name: 'données ✓ 😀', paths: ['srv/a b', 'var/é'] })), 'ok');
});

test('hostile strings in names, paths, patterns and commands round-trip or are refused, never reshape the JSON', () => {
  const random = seededRandom(12);
  const outcomes = { ok: 0, refused: 0 };
  for (let i = 0; i < 3000; i++) {
    const text = hostileString(random);
    const field = i % 4;
    const d =
      field === 0
        ? declaration({ name: text })
        : field === 1
          ? declaration({ paths: [`srv/${text}`] })
          : field === 2
            ? declaration({ exclude: [text] })
            : declaration({ checkCommand: `/bin/${text}` });
    outcomes[roundTripOrRefused(d)]++;
  }
  assert.ok(outcomes.ok > 100 && outcomes.refused > 100, JSON.stringify(outcomes));
});

test('paths: "..", absolute, the whole partition, NUL, line terminators and control characters are refused clearly', () => {
  const cases: [string, RegExp][] = [
    ['../etc', /paths\[0\]: "\.\.\/etc" contains "\.\."/],
    ['srv/../../x', /contains "\.\."/],
    ['/etc/passwd', /is absolute/],
    ['.', /whole partition/],
    ['srv//kv', /not in normal form \("srv\/kv"\)/],
    ['srv/./kv', /not in normal form/],
    ['srv/kv/', /not in normal form/],
    ['', /is empty/],
    ['srv/\0x', /NUL/],
    ['srv/\ud800', /unpaired surrogate/],
    ['srv/\x1b[31m', /control character/],
  ];
  for (const terminator of LINE_TERMINATORS) cases.push([`srv/a${terminator}b`, /line terminator/]);
  for (const [path, message] of cases) {
    throwsSlapError(
      () => serializeDeclaration(declaration({ paths: [path] })),
      'SLAP_ERR_INVALID_INPUT',
      message,
    );
    const text = JSON.stringify({ version: 1, ...declaration({ paths: [path] }) });
    throwsSlapError(
      () => parseDeclaration(text, '/p/.slapos-backup/x.json'),
      'SLAP_ERR_INVALID_INPUT',
      message,
    );
  }
  throwsSlapError(
    () => serializeDeclaration(declaration({ paths: [] })),
    'SLAP_ERR_INVALID_INPUT',
    /at least one/,
  );
  throwsSlapError(
    () => serializeDeclaration(declaration({ paths: ['srv', 'srv'] })),
    'SLAP_ERR_INVALID_INPUT',
    /listed twice/,
  );
  throwsSlapError(
    () => serializeDeclaration(declaration({ backupCommand: 'bin/kv-dump' })),
    'SLAP_ERR_INVALID_INPUT',
    /backupCommand: "bin\/kv-dump" is not an absolute path/,
  );
  throwsSlapError(
    () => serializeDeclaration(declaration({ restoreCommand: '/srv/../bin/sh' })),
    'SLAP_ERR_INVALID_INPUT',
    /restoreCommand: .* contains "\.\."/,
  );
  for (const name of ['a/b', '.hidden', '', 'x\ny', 'x\0']) {
    throwsSlapError(() => serializeDeclaration(declaration({ name })), 'SLAP_ERR_INVALID_INPUT', /name: /);
  }
});

test('parseDeclaration refuses anything but a version 1 declaration with exactly its fields', () => {
  const good = JSON.parse(serializeDeclaration(declaration())) as Record<string, unknown>;
  const variants: [unknown, RegExp][] = [
    [{ ...good, version: 2 }, /unknown version 2/],
    [{ ...good, extra: 1 }, /unknown field "extra"/],
    [{ ...good, keep: { last: 1, hourly: 1 } }, /keep: missing field "daily"/],
    [{ ...good, keep: { last: 0, hourly: 1, daily: 1 } }, /keep\.last: must be an integer from 1/],
    [{ ...good, periodSeconds: 0 }, /periodSeconds: must be an integer from 1 to 2678400/],
    [{ ...good, periodSeconds: 86400 * 31 + 1 }, /periodSeconds/],
    [{ ...good, periodSeconds: 1.5 }, /periodSeconds/],
    [{ ...good, periodSeconds: '10' }, /periodSeconds/],
    [{ ...good, paths: 'srv' }, /paths: must be a list/],
    [{ ...good, paths: [1] }, /paths\[0\]: must be a string/],
    [{ ...good, checkCommand: 7 }, /checkCommand: must be a string/],
    [[good], /not a JSON object/],
  ];
  for (const [value, message] of variants) {
    throwsSlapError(
      () => parseDeclaration(JSON.stringify(value), 'where.json'),
      'SLAP_ERR_INVALID_INPUT',
      message,
    );
  }
  const { name: _name, ...withoutName } = good;
  throwsSlapError(
    () => parseDeclaration(JSON.stringify(withoutName), 'w'),
    'SLAP_ERR_INVALID_INPUT',
    /missing field "name"/,
  );
  throwsSlapError(
    () => parseDeclaration('{"version":1,', 'here.json'),
    'SLAP_ERR_INVALID_INPUT',
    /^here\.json: not JSON/,
  );
});

test('readDeclarations: none, sorted by name, named after their file, symlinks refused', async () => {
  const root = await makeTempDir('backup-declaration-');
  try {
    assert.deepEqual(await readDeclarations(root), []);
    const dir = join(root, DECLARATION_DIRECTORY);
    await mkdir(dir);
    assert.deepEqual(await readDeclarations(root), []);
    const b = declaration({ name: 'b', paths: ['srv/b'] });
    const a = declaration({ name: 'a', paths: ['srv/a'] });
    await writeFile(join(dir, 'b.json'), serializeDeclaration(b));
    await writeFile(join(dir, 'a.json'), serializeDeclaration(a));
    await writeFile(join(dir, '.c.json.1234.tmp'), 'partial');
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    assert.deepEqual(await readDeclarations(root), [a, b]);

    await writeFile(join(dir, 'c.json'), serializeDeclaration(declaration({ name: 'other' })));
    await rejectsWithSlapError(readDeclarations(root), 'SLAP_ERR_INVALID_INPUT', /c\.json: declares "other"/);
    await rm(join(dir, 'c.json'));

    await writeFile(join(root, 'elsewhere.json'), serializeDeclaration(declaration({ name: 'd' })));
    await symlink(join(root, 'elsewhere.json'), join(dir, 'd.json'));
    await rejectsWithSlapError(readDeclarations(root), 'SLAP_ERR_INVALID_INPUT', /d\.json: is a symlink/);
    await rm(join(dir, 'd.json'));

    await mkdir(join(dir, 'e.json'));
    await rejectsWithSlapError(
      readDeclarations(root),
      'SLAP_ERR_INVALID_INPUT',
      /e\.json: is not a regular file/,
    );
    await rm(join(dir, 'e.json'), { recursive: true });

    await writeFile(join(dir, 'f.json'), Buffer.from([0x7b, 0xff, 0x7d]));
    await rejectsWithSlapError(readDeclarations(root), 'SLAP_ERR_INVALID_INPUT', /f\.json: is not UTF-8/);
    await rm(join(dir, 'f.json'));

    const other = await makeTempDir('backup-declaration-target-');
    try {
      await rm(dir, { recursive: true });
      await symlink(other, dir);
      await rejectsWithSlapError(readDeclarations(root), 'SLAP_ERR_INVALID_INPUT', /is not a directory/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('mergeDeclarations: one plan per partition', () => {
  assert.equal(mergeDeclarations([]), undefined);
  const plan = mergeDeclarations([
    declaration({
      name: 'z-files',
      paths: ['srv/files', 'srv/kv/x'],
      exclude: ['*.tmp', 'cache'],
      backupCommand: null,
      restoreCommand: '/p/bin/z-restore',
      checkCommand: '/p/bin/z-check',
      periodSeconds: 3600,
      keep: { last: 3, hourly: 48, daily: 1 },
    }),
    declaration({
      name: 'a-kv',
      paths: ['srv/kv', 'srv/files'],
      exclude: ['*.tmp'],
      backupCommand: '/p/bin/kv-dump',
      restoreCommand: '/p/bin/kv-restore',
      checkCommand: null,
      periodSeconds: 10,
      keep: { last: 20, hourly: 0, daily: 7 },
    }),
  ]);
  assert.deepEqual(plan, {
    paths: ['srv/kv', 'srv/files'],
    exclude: ['*.tmp', 'cache'],
    backupCommands: ['/p/bin/kv-dump'],
    restoreCommands: ['/p/bin/kv-restore', '/p/bin/z-restore'],
    checkCommands: ['/p/bin/z-check'],
    periodSeconds: 10,
    keep: { last: 20, hourly: 48, daily: 7 },
  });
  // 'srv/kv-backup' is not inside 'srv/kv': only a path under another one is dropped.
  assert.deepEqual(mergeDeclarations([declaration({ paths: ['srv/kv', 'srv/kv-backup'] })])?.paths, [
    'srv/kv',
    'srv/kv-backup',
  ]);
});
