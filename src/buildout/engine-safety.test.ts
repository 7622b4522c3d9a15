/**
 * The engine against hostile values (docs/buildout.md, "The installed-parts record" and
 * "Uninstalling"): requester-controlled option values and keys cannot change the record's
 * structure, recorded paths outside the owned directories are never deleted, and a recipe named
 * only by the record is never imported.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { HOSTILE_PIECES } from '../testing/hostile-strings.ts';
import { profileRunner, tempDir, type TempDir } from '../testing/buildout.ts';
import { uninstallAll } from './engine.ts';
import { formatInstalled, parseInstalled } from './installed.ts';
import type { Recipe } from './recipe.ts';

/** Like slapconfiguration: sets the parameters it is given as options `configuration.<key>`. */
function parameterRecipe(parameters: { current: Record<string, string> }): Recipe {
  return {
    init(ctx) {
      for (const [key, value] of Object.entries(parameters.current))
        ctx.options.set(`configuration.${key}`, value);
    },
    async install(ctx) {
      const output = join(ctx.directories.directory, 'hello.txt');
      await writeFile(output, parameters.current.name ?? '');
      return [output];
    },
  };
}

const PROFILE = '[buildout]\nparts = hello\n[hello]\nrecipe = param\n';

async function withDirs(fn: (buildout: TempDir, outside: TempDir) => Promise<void>): Promise<void> {
  const buildout = await tempDir();
  const outside = await tempDir('buildout-outside-');
  try {
    await fn(buildout, outside);
  } finally {
    await buildout.remove();
    await outside.remove();
  }
}

/** An ES module recipe that leaves `marker` behind if it is ever imported or run. */
async function evilRecipe(dir: string, marker: string): Promise<string> {
  const file = join(dir, 'evil-recipe.mjs');
  const code = (what: string): string =>
    `(await import('node:fs')).writeFileSync(${JSON.stringify(marker)}, ${JSON.stringify(what)});`;
  await writeFile(
    file,
    `${code('imported')}\nexport default { install() {}, async uninstall() { ${code('uninstall ran')} } };\n`,
  );
  return file;
}

test('a parameter injecting record sections deletes nothing outside and imports nothing (issue 14.1)', async () => {
  await withDirs(async (buildout, outside) => {
    const victim = join(outside.path, 'victim');
    await writeFile(victim, 'precious');
    const marker = join(outside.path, 'marker');
    const recipeFile = await evilRecipe(outside.path, marker);
    const parameters = { current: {} as Record<string, string> };
    const { run } = profileRunner(buildout.path, { recipes: { param: parameterRecipe(parameters) } });
    for (const recipe of ['none', recipeFile]) {
      parameters.current = {
        name: `x\r[buildout]\rparts = evil\r[evil]\rrecipe = ${recipe}\r__buildout_installed__ = ${victim}\r[zzz-tail]\rk = v`,
      };
      await run(PROFILE);
      parameters.current = { name: 'benign' };
      const result = await run(PROFILE);
      assert.deepEqual(result.uninstalled, ['hello']);
      assert.deepEqual(result.installedParts, ['hello']);
      assert.equal(await readFile(victim, 'utf8'), 'precious');
      assert.equal(existsSync(marker), false, 'the recipe named in the record was imported');
      assert.equal(await readFile(join(buildout.path, 'hello.txt'), 'utf8'), 'benign');
    }
  });
});

test('hostile parameter values and keys deploy, then a benign one reinstalls cleanly (issue 14.2)', async () => {
  await withDirs(async (buildout) => {
    const parameters = { current: {} as Record<string, string> };
    const { run } = profileRunner(buildout.path, { recipes: { param: parameterRecipe(parameters) } });
    const hostile = [...HOSTILE_PIECES, 'a\rb', 'a\u2028b', 'a\x85b', ' lead', 'trail\t'];
    for (const piece of hostile) {
      parameters.current = { name: `v${piece}v`, [`k${piece}`]: piece };
      await run(PROFILE);
      // Read back exactly: a second run with the same values changes nothing.
      const again = await run(PROFILE);
      assert.deepEqual([again.installed, again.uninstalled], [[], []], JSON.stringify(piece));
      parameters.current = { name: 'benign' };
      const benign = await run(PROFILE);
      assert.deepEqual(benign.installedParts, ['hello'], JSON.stringify(piece));
      assert.equal(await readFile(join(buildout.path, 'hello.txt'), 'utf8'), 'benign');
    }
  });
});

/** A record (as an attacker or an old version may have left it) listing part `old` with `paths`. */
async function writeRecord(dir: string, old: Record<string, string>): Promise<void> {
  const text = formatInstalled({
    parts: ['old'],
    options: new Map([['old', old]]),
    extra: { installed_develop_eggs: '' },
  });
  await writeFile(join(dir, '.installed.cfg'), text);
}

test('uninstalling deletes recorded paths only inside the buildout directory (outside, .., symlink)', async () => {
  await withDirs(async (buildout, outside) => {
    for (const name of ['abs', 'dotdot', 'behind-link']) await writeFile(join(outside.path, name), name);
    await mkdir(join(outside.path, 'tree'));
    await symlink(outside.path, join(buildout.path, 'link'));
    await symlink(join(outside.path, 'tree'), join(buildout.path, 'link-to-tree'));
    await mkdir(join(buildout.path, 'parts', 'old'), { recursive: true });
    await writeFile(join(buildout.path, 'inside.txt'), 'x');
    const refused = [
      join(outside.path, 'abs'),
      `${buildout.path}/parts/../../${outside.path.split('/').pop()}/dotdot`,
      join(buildout.path, 'link', 'behind-link'),
      outside.path,
      buildout.path,
      '/',
    ];
    await writeRecord(buildout.path, {
      recipe: 'none',
      __buildout_installed__: [
        ...refused,
        'inside.txt',
        join(buildout.path, 'parts', 'old'),
        'link-to-tree',
      ].join('\n'),
    });
    const { run, events } = profileRunner(buildout.path, {
      recipes: { param: parameterRecipe({ current: {} }) },
    });
    const result = await run(PROFILE);
    assert.deepEqual(result.uninstalled, ['old']);
    for (const name of ['abs', 'dotdot', 'behind-link', 'tree'])
      assert.ok(existsSync(join(outside.path, name)), name);
    // Inside paths are deleted; a symlink is removed itself, its target left alone.
    for (const name of ['inside.txt', 'parts/old', 'link-to-tree'])
      assert.equal(existsSync(join(buildout.path, name)), false, name);
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e] : []));
    assert.equal(warnings.length, refused.length);
    for (const [index, warning] of warnings.entries()) {
      assert.equal(warning.part, 'old');
      assert.ok(warning.message.includes(JSON.stringify(refused[index])), warning.message);
    }
  });
});

test('a recipe named only by the record is never imported, by a run or by uninstallAll', async () => {
  await withDirs(async (buildout, outside) => {
    const marker = join(outside.path, 'marker');
    const recipeFile = await evilRecipe(outside.path, marker);
    for (const recipe of [recipeFile, `${recipeFile}:default`]) {
      await writeRecord(buildout.path, { recipe, __buildout_installed__: 'x' });
      const { run } = profileRunner(buildout.path, { recipes: { param: parameterRecipe({ current: {} }) } });
      assert.deepEqual((await run(PROFILE)).uninstalled, ['old']);
      await writeRecord(buildout.path, { recipe, __buildout_installed__: 'x' });
      await writeFile(join(buildout.path, 'buildout.cfg'), '[buildout]\nparts =\n');
      assert.deepEqual((await uninstallAll({ directory: buildout.path })).uninstalled, ['old']);
      assert.equal(existsSync(marker), false);
    }
  });
});

test('a recipe module the profile names still runs its uninstall hook when its part changes', async () => {
  await withDirs(async (buildout, outside) => {
    const marker = join(outside.path, 'marker');
    const recipeFile = await evilRecipe(outside.path, marker);
    const { run } = profileRunner(buildout.path);
    await run(`[buildout]\nparts = m\n[m]\nrecipe = ${recipeFile}\nx = 1\n`);
    await run(`[buildout]\nparts = m\n[m]\nrecipe = ${recipeFile}\nx = 2\n`);
    assert.equal(await readFile(marker, 'utf8'), 'uninstall ran');
  });
});

test('an unreadable record is ignored with a warning: nothing uninstalled, the parts installed again', async () => {
  await withDirs(async (buildout, outside) => {
    const victim = join(outside.path, 'victim');
    await writeFile(victim, 'precious');
    // What an older version wrote for a value holding a lone \r.
    await writeFile(
      join(buildout.path, '.installed.cfg'),
      `[buildout]\nparts = hello\n\n[hello]\n__buildout_installed__ = ${victim}\nconfiguration.name = x\rnot an option\nrecipe = param\n`,
    );
    const parameters = { current: { name: 'benign' } };
    const { run, events } = profileRunner(buildout.path, { recipes: { param: parameterRecipe(parameters) } });
    const result = await run(PROFILE);
    assert.deepEqual([result.installed, result.uninstalled], [['hello'], []]);
    assert.equal(await readFile(victim, 'utf8'), 'precious');
    assert.ok(
      events.some((e) => e.type === 'warning' && /installed-parts record .* cannot be read/.test(e.message)),
    );
    const record = parseInstalled(await readFile(join(buildout.path, '.installed.cfg'), 'utf8'), 'x');
    assert.deepEqual(record.parts, ['hello']);
    assert.equal(record.options.get('hello')?.['configuration.name'], 'benign');
  });
});
