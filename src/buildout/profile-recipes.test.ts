import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../testing/buildout.ts';
import { profileRecipes } from './profile-recipes.ts';

test('recipes are found statically through extends, <= macros and ${} references; native says what the engine has', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'base.cfg': '[macro]\nrecipe = slapos.cookbook:wrapper\n[python-part]\nrecipe = ${recipes:egg}\n',
      'buildout.cfg': [
        '[buildout]',
        'extends = base.cfg',
        'parts = a b c',
        '[recipes]',
        'egg = zc.recipe.egg',
        'dir = slapos.cookbook:${:kind}',
        'kind = mkdirectory',
        '[a]',
        '<= macro',
        'command-line = true',
        '[b]',
        'recipe = ${recipes:dir}',
        '[c]',
        'recipe = ${nowhere:recipe}',
        '[plain]',
        'value = no recipe here',
        '',
      ].join('\n'),
    });
    const found = await profileRecipes({ configFile: join(dir.path, 'buildout.cfg') });
    assert.deepEqual(found.map(({ section, recipe, native }) => [section, recipe, native]).sort(), [
      ['a', 'slapos.cookbook:wrapper', true],
      ['b', 'slapos.cookbook:mkdirectory', true],
      ['c', '${nowhere:recipe}', false],
      ['macro', 'slapos.cookbook:wrapper', true],
      ['python-part', 'zc.recipe.egg', false],
    ]);
  } finally {
    await dir.remove();
  }
});

test('a macro loop or a recipe that is no recipe name is reported as not native, not thrown', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'buildout.cfg': '[buildout]\nparts =\n[a]\n<= b\n[b]\n<= a\nrecipe = x\n[c]\nrecipe = a:b:c\n',
    });
    const found = await profileRecipes({ configFile: join(dir.path, 'buildout.cfg') });
    assert.deepEqual(
      found.map(({ section, native }) => [section, native]),
      [
        ['a', false],
        ['b', false],
        ['c', false],
      ],
    );
  } finally {
    await dir.remove();
  }
});
