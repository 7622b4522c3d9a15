import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { tempDir } from '../testing/buildout.ts';
import { loadProfile, resolveProfile, type Profile } from './engine.ts';
import type { Recipe, RecipeMap } from './recipe.ts';

const computing: Recipe = {
  init(ctx) {
    ctx.options.set('computed', `computed-by-${ctx.name}`);
  },
  install: () => [],
};
const RECIPES: RecipeMap = { R: computing, 'R:other': computing };

async function withProfile(
  text: string,
  check: (profile: Profile) => Promise<void> | void,
  extra: Record<string, string> = {},
): Promise<void> {
  const dir = await tempDir();
  try {
    await dir.write({ 'buildout.cfg': text, ...extra });
    await check(await loadProfile({ configFile: join(dir.path, 'buildout.cfg'), recipes: RECIPES }));
  } finally {
    await dir.remove();
  }
}

async function profileError(text: string): Promise<SlapError> {
  let caught: unknown;
  await withProfile(text, async (profile) => {
    try {
      await profile.plan();
      for (const name of profile.buildout.sectionNames())
        await profile.buildout.resolveAll(await profile.section(name));
    } catch (error) {
      caught = error;
    }
  });
  assert.ok(caught instanceof SlapError, `expected a SlapError, got ${String(caught)}`);
  return caught;
}

test('§1.11-8 macros: newline-separated list, later macros win, += against macro values, raw copy (example 1.6-a)', async () => {
  const text = [
    '[m1]',
    'x = 1',
    'y = from-m1',
    'n = ${:_buildout_section_name_}',
    '[m2]',
    'y = from-m2',
    'z = ${:x}-z',
    '[c]',
    '<= m1',
    '   m2',
    'x += 2',
  ].join('\n');
  await withProfile(text, async (profile) => {
    const c = await profile.section('c');
    assert.deepEqual(Object.fromEntries(c.entries()), { x: '1\n2', y: 'from-m2', n: 'c', z: '1\n2-z' });
    assert.equal(await profile.get('m1', 'n'), 'm1');
  });
});

test('§1.11-8 macros are recursive; a loop and a missing macro are errors; "<= a b" is one name', async () => {
  await withProfile(
    '[base]\na = 1\nb = base\n[mid]\n<= base\nb = mid\n[top]\n<= mid\nc = ${:b}\n',
    async (profile) => {
      assert.deepEqual(Object.fromEntries((await profile.section('top')).entries()), {
        a: '1',
        b: 'mid',
        c: 'mid',
      });
    },
  );
  const loop = await profileError('[a]\n<= b\n[b]\n<= a\n');
  assert.match(loop.message, /Infinite extending loop in macros: (a <= b <= a|b <= a <= b)/);
  const missing = await profileError('[a]\n<= m1 m2\n[m1]\nx = 1\n');
  assert.match(missing.message, /buildout\.cfg:2: a:<: No section named \[m1 m2\]/);
});

test('§1.11-9 substitution: ${:x}, _buildout_section_name_, names with spaces and dots, $${ escape', async () => {
  const text = [
    '[buildout]',
    'parts =',
    '[a]',
    'configuration.foo = bar',
    'x = ${:configuration.foo}/${a:configuration.foo}/${:_buildout_section_name_}',
    'esc = $${a:x} and $$ and $${not a ref}',
    'ref-esc = [${a:esc}]',
    'dir = ${buildout:directory}',
  ].join('\n');
  await withProfile(text, async (profile) => {
    assert.equal(await profile.get('a', 'x'), 'bar/bar/a');
    assert.equal(await profile.get('a', 'esc'), '${a:x} and $$ and ${not a ref}');
    assert.equal(
      await profile.get('a', 'ref-esc'),
      '[${a:x} and $$ and ${not a ref}]',
      'an escape propagates through references once',
    );
    assert.equal(await profile.get('a', 'dir'), profile.directories.directory);
  });
});

test('§1.11-9 substitution errors name section:option, file:line and the reference', async () => {
  const cases: [string, RegExp][] = [
    ['[a]\nx = ${nocolon}\n', /buildout\.cfg:2: a:x: the substitution \$\{nocolon\} doesn't contain a colon/],
    ['[a]\nx = ${a:b:c}\n', /a:x: the substitution \$\{a:b:c\} has too many colons/],
    ['[a]\nx = ${a/b:c}\n', /has invalid characters in its section name/],
    ['[a]\nx = ${a:c@d}\n', /has invalid characters in its option name/],
    [
      '[a]\nx = ${nosection:y}\n',
      /buildout\.cfg:2: a:x: \$\{nosection:y\} refers to section \[nosection\], which does not exist/,
    ],
    [
      '[a]\nx = ${b:nope}\n[b]\ny = 1\n',
      /a:x: \$\{b:nope\} refers to an option that does not exist \(section \[b\] has no option "nope"\)/,
    ],
  ];
  for (const [text, expected] of cases) {
    const error = await profileError(text);
    assert.equal(error.code, 'SLAP_ERR_PROFILE');
    assert.match(error.message, expected);
  }
});

test('§1.11-9 a substitution cycle is an error showing the chain', async () => {
  const error = await profileError('[a]\nx = ${b:y}\n[b]\ny = ${c:z}\n[c]\nz = ${a:x}\n');
  assert.match(
    error.message,
    /Circular reference in substitutions: ([abc]:[xyz]) -> [abc]:[xyz] -> [abc]:[xyz] -> \1$/,
  );
  assert.match(error.message, /buildout\.cfg:6: /);
});

test('§1.11-10 laziness: errors in sections nobody uses never surface', async () => {
  await withProfile(
    '[buildout]\nparts = ok\n[ok]\nrecipe = R\n[broken]\nx = ${nosection:z}\ny = ${b}\n',
    async (profile) => {
      assert.deepEqual(await profile.plan(), ['ok']);
    },
  );
});

test('§1.11-10 sections may reference each other’s plain options (only option cycles fail)', async () => {
  await withProfile('[a]\nx = 1\ny = ${b:v}\n[b]\nu = 2\nv = ${a:x}${:u}\n', async (profile) => {
    assert.equal(await profile.get('a', 'y'), '12');
  });
});

test('§1.11-10 implicit parts and install order follow references in sorted option order (example 1.8-a)', async () => {
  const text = [
    '[buildout]',
    'parts = directory publish',
    '[directory]',
    'recipe = R',
    'home = ${buildout:directory}',
    '[instance-parameter]',
    'recipe = R',
    '[web-b]',
    'recipe = R',
    'ip = ${instance-parameter:computed}',
    '[web-a]',
    'recipe = R',
    'ip = ${instance-parameter:computed}',
    '[publish]',
    'recipe = R:other',
    'name = ${instance-parameter:computed}',
    'url.b = ${web-b:ip}',
    'url.a = ${web-a:ip}',
    '[macro-with-recipe]',
    'recipe = R',
  ].join('\n');
  await withProfile(text, async (profile) => {
    assert.deepEqual(await profile.plan(), ['directory', 'instance-parameter', 'web-a', 'web-b', 'publish']);
    assert.equal(await profile.get('publish', 'url.a'), 'computed-by-instance-parameter');
    assert.deepEqual([...(await profile.section('publish')).dependencies].sort(), [
      'instance-parameter',
      'web-a',
      'web-b',
    ]);
  });
});

test('<part-dependencies> (=>) initialises the named parts first', async () => {
  await withProfile('[buildout]\nparts = b\n[a]\nrecipe = R\n[b]\n=> a\nrecipe = R\n', async (profile) => {
    assert.deepEqual(await profile.plan(), ['a', 'b']);
  });
});

test('a listed part without a recipe, or missing, is an error', async () => {
  assert.match(
    (await profileError('[buildout]\nparts = a\n[a]\nx = 1\n')).message,
    /Missing option: a:recipe/,
  );
  assert.match(
    (await profileError('[buildout]\nparts = ghost\n')).message,
    /Part ghost is listed in buildout:parts but there is no section \[ghost\]/,
  );
});

test('[buildout] directories are absolute; offline must be true or false', async () => {
  await withProfile(
    '[buildout]\nbin-directory = ${buildout:directory}/sbin\nparts-directory = p\noffline = true\n',
    (profile) => {
      const dir = profile.directories.directory;
      assert.deepEqual(profile.directories, {
        directory: dir,
        bin: join(dir, 'sbin'),
        parts: join(dir, 'p'),
        eggs: join(dir, 'eggs'),
        developEggs: join(dir, 'develop-eggs'),
      });
      assert.equal(profile.offline, true);
      assert.equal(profile.newest, false, 'offline forces newest off');
      assert.equal(profile.installedFile, join(dir, '.installed.cfg'));
    },
  );
  const dir = await tempDir();
  try {
    await dir.write({ 'buildout.cfg': '[buildout]\noffline = yes\n' });
    await assert.rejects(
      loadProfile({ configFile: join(dir.path, 'buildout.cfg') }),
      /Invalid value for buildout:offline: "yes" \(only true or false\)/,
    );
  } finally {
    await dir.remove();
  }
});

test('resolveProfile resolves every section and reports broken ones without failing', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'buildout.cfg': '[buildout]\nparts =\n[good]\na = 1\nb = ${:a}2\n[bad]\nx = ${nope:y}\n',
    });
    const result = await resolveProfile({ configFile: join(dir.path, 'buildout.cfg') });
    assert.deepEqual(result.parts, []);
    assert.deepEqual(result.sections.good, { a: '1', b: '12' });
    assert.match((result.sections.bad as { __error__: string }).__error__, /refers to section \[nope\]/);
  } finally {
    await dir.remove();
  }
});

test('a value a recipe sets reads back exactly, "${" and "$${" included, directly and through ${part:option}', async () => {
  const samples = ['$${x}', '${y}', '$$${z}', 'a $${b} ${c:d} $', '$', '$$', '${', '}$${'];
  const setting: Recipe = {
    init(ctx) {
      samples.forEach((value, i) => ctx.options.set(`v${i}`, value));
    },
    install: () => [],
  };
  const dir = await tempDir();
  try {
    const references = samples.map((_, i) => `r${i} = \${setter:v${i}}`).join('\n');
    await dir.write({
      'buildout.cfg': `[buildout]\nparts =\n[setter]\nrecipe = S\n[reader]\n${references}\n`,
    });
    const profile = await loadProfile({
      configFile: join(dir.path, 'buildout.cfg'),
      recipes: { S: setting },
    });
    const setter = await profile.section('setter');
    const reader = await profile.section('reader');
    await profile.buildout.resolveAll(reader);
    for (const [i, value] of samples.entries()) {
      assert.equal(setter.get(`v${i}`), value, `v${i}`);
      assert.equal(reader.get(`r${i}`), value, `r${i}`);
    }
  } finally {
    await dir.remove();
  }
});
