import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { profileRunner, tempDir, type ProfileRun, type TempDir } from '../testing/buildout.ts';
import { loadProfile, uninstallAll } from './engine.ts';
import { parseInstalled } from './installed.ts';
import type { Recipe, RecipeMap } from './recipe.ts';

/** A recipe writing `content` to `output`, counting its calls. */
function fileRecipe(calls: string[]): Recipe {
  return {
    init(ctx) {
      ctx.options.set('computed', `computed-by-${ctx.name}`);
    },
    async install(ctx) {
      calls.push(`install ${ctx.name}`);
      const output = join(ctx.directories.directory, ctx.options.require('output'));
      ctx.created(output);
      await writeFile(output, ctx.options.get('content') ?? '');
      if (ctx.options.get('fail') === 'true') throw new Error(`boom in ${ctx.name}`);
      return [output];
    },
    update(ctx) {
      calls.push(`update ${ctx.name}`);
    },
    uninstall(ctx) {
      calls.push(`uninstall ${ctx.name} ${ctx.options.content ?? ''}`);
    },
  };
}

interface Harness extends ProfileRun {
  dir: TempDir;
  calls: string[];
}

async function harness(fn: (h: Harness) => Promise<void>, recipes: RecipeMap = {}): Promise<void> {
  const dir = await tempDir();
  const calls: string[] = [];
  try {
    await fn({
      dir,
      calls,
      ...profileRunner(dir.path, { recipes: { file: fileRecipe(calls), ...recipes } }),
    });
  } finally {
    await dir.remove();
  }
}

/** path → "mtime inode" of every file and directory under `root`. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    result.set(path, `${info.mtimeMs} ${info.ino}`);
  }
  return result;
}

const TWO_PARTS = `[buildout]
parts = b
[a]
recipe = file
output = a.txt
content = A
[b]
recipe = file
output = b.txt
content = B uses \${a:computed}
`;

test('§1.11-12 the installed record: buildout format, install order, installed paths, signatures', async () => {
  await harness(async ({ dir, run }) => {
    const result = await run(TWO_PARTS);
    assert.deepEqual(result.installed, ['a', 'b']);
    assert.equal(await readFile(join(dir.path, 'b.txt'), 'utf8'), 'B uses computed-by-a');
    const text = await readFile(join(dir.path, '.installed.cfg'), 'utf8');
    assert.match(
      text,
      /^\[buildout\]\ninstalled_develop_eggs = \nparts = a b\n\n\[a\]\n__buildout_installed__ = .*a\.txt\n__buildout_signature__ = file-0\n/,
    );
    const record = parseInstalled(text, 'x');
    assert.deepEqual(record.parts, ['a', 'b']);
    assert.equal(record.options.get('b')?.content, 'B uses computed-by-a');
    assert.equal(record.options.get('b')?.computed, 'computed-by-b');
    assert.match(record.options.get('b')?.__buildout_signature__ ?? '', /^file-0 a:[0-9a-f]{32}$/);
    for (const dirname of ['bin', 'parts', 'eggs', 'develop-eggs'])
      assert.ok(existsSync(join(dir.path, dirname)), dirname);
  });
});

test('§1.11-12 values with awkward whitespace survive the record', async () => {
  await harness(async ({ run }) => {
    const awkward = {
      lead: '  two spaces',
      trail: 'trailing  ',
      blank: 'a\n\nb',
      tab: 'x\n\tindented\t',
      first: '\nstarts with newline',
    };
    const recipe: Recipe = {
      init(ctx) {
        for (const [k, v] of Object.entries(awkward)) ctx.options.set(k, v);
      },
      install: () => [],
      update: () => undefined,
    };
    const text = '[buildout]\nparts = w\n[w]\nrecipe = w\n';
    const first = await run(text, { recipes: { w: recipe } });
    assert.deepEqual(first.installed, ['w']);
    const record = parseInstalled(await readFile(first.installedFile as string, 'utf8'), 'x');
    for (const [k, v] of Object.entries(awkward)) assert.equal(record.options.get('w')?.[k], v, k);
    const second = await run(text, { recipes: { w: recipe } });
    assert.deepEqual(second.updated, ['w'], 'identical options after a round trip: no reinstall');
  });
});

test('§1.11-12 a re-run with nothing changed spawns no process and writes no file', async () => {
  await harness(async ({ dir, run, spawned, calls }) => {
    const text = `${TWO_PARTS}[cmd]\nrecipe = plone.recipe.command\ncommand = echo built > built.txt\nlocation = built.txt\nstop-on-error = true\n[tpl]\nrecipe = slapos.recipe.template\ninline = hello \${a:content}\noutput = tpl.txt\n[buildout]\nparts = b cmd tpl\n`;
    await run(text);
    assert.equal(spawned.length, 1);
    const before = await snapshot(dir.path);
    calls.length = 0;
    spawned.length = 0;
    const result = await run(text);
    assert.deepEqual(result.updated, ['a', 'b', 'cmd', 'tpl']);
    assert.deepEqual(result.installed, []);
    assert.deepEqual(spawned, [], 'no process spawned');
    assert.deepEqual(calls, ['update a', 'update b']);
    const after = await snapshot(dir.path);
    after.delete(join(dir.path, 'buildout.cfg'));
    before.delete(join(dir.path, 'buildout.cfg'));
    assert.deepEqual(after, before, 'no file or directory written');
  });
});

test('§1.11-12 a changed part is uninstalled and installed again; dependents follow through signatures', async () => {
  await harness(async ({ dir, run, calls, events }) => {
    await run(TWO_PARTS);
    calls.length = 0;
    events.length = 0;
    const result = await run(TWO_PARTS.replace('content = A', 'content = A2'));
    assert.deepEqual(result.uninstalled, ['b', 'a'], 'reverse order');
    assert.deepEqual(result.installed, ['a', 'b'], 'b reinstalled because its dependency a changed');
    assert.deepEqual(calls, ['uninstall b B uses computed-by-a', 'uninstall a A', 'install a', 'install b']);
    assert.equal(await readFile(join(dir.path, 'a.txt'), 'utf8'), 'A2');
    const uninstalling = events.filter((e) => e.type === 'part' && e.action === 'uninstalling');
    assert.deepEqual(
      uninstalling.map((e) => e.type === 'part' && e.reason),
      ['changed', 'changed'],
    );
  });
});

test('§1.11-12 a change anywhere in a dependency section reinstalls the dependent part (fork signatures)', async () => {
  await harness(async ({ run, calls }) => {
    const text =
      '[buildout]\nparts = x\n[data]\nused = 1\nunused = 1\n[x]\nrecipe = file\noutput = x.txt\ncontent = ${data:used}\n';
    await run(text);
    calls.length = 0;
    const result = await run(text.replace('unused = 1', 'unused = 2'));
    assert.deepEqual(result.installed, ['x']);
    assert.deepEqual(calls, ['uninstall x 1', 'install x']);
  });
});

test('§1.11-12 a removed part is uninstalled and its files deleted; missing files trigger a reinstall', async () => {
  await harness(async ({ dir, run, calls }) => {
    await run(TWO_PARTS);
    await run(TWO_PARTS.replace('parts = b', 'parts = a'));
    assert.equal(existsSync(join(dir.path, 'b.txt')), false);
    assert.deepEqual(parseInstalled(await readFile(join(dir.path, '.installed.cfg'), 'utf8'), 'x').parts, [
      'a',
    ]);
    calls.length = 0;
    await import('node:fs/promises').then((fs) => fs.rm(join(dir.path, 'a.txt')));
    const result = await run(TWO_PARTS.replace('parts = b', 'parts = a'));
    assert.deepEqual(result.installed, ['a']);
    assert.deepEqual(calls, ['uninstall a A', 'install a']);
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, '.installed.cfg')), false, 'no part left: the record is removed');
    assert.equal(existsSync(join(dir.path, 'a.txt')), false);
  });
});

test('§1.11-12 a failed install leaves the previous state recorded and removes what it created', async () => {
  await harness(async ({ dir, run }) => {
    await run(TWO_PARTS);
    const failing = `${TWO_PARTS.replace('parts = b', 'parts = b c')}[c]\nrecipe = file\noutput = c.txt\nfail = true\n`;
    await assert.rejects(run(failing), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_RECIPE_FAILED');
      assert.equal(error.message, 'Installing part c (file): boom in c');
      return true;
    });
    assert.equal(existsSync(join(dir.path, 'c.txt')), false, 'created() paths are removed');
    assert.deepEqual(parseInstalled(await readFile(join(dir.path, '.installed.cfg'), 'utf8'), 'x').parts, [
      'a',
      'b',
    ]);

    // A changed part whose new install fails is no longer recorded at all.
    await assert.rejects(
      run(TWO_PARTS.replace('content = B', 'fail = true\ncontent = B')),
      /Installing part b \(file\): boom in b/,
    );
    const record = parseInstalled(await readFile(join(dir.path, '.installed.cfg'), 'utf8'), 'x');
    assert.deepEqual(record.parts, ['a']);
    assert.equal(existsSync(join(dir.path, 'b.txt')), false);
    assert.deepEqual(
      (await readdir(dir.path)).filter((f) => f.endsWith('.tmp')),
      [],
      'no temporary file left by the atomic writes',
    );
  });
});

test('update vs install: a recipe without update is installed again; install PART… leaves others alone', async () => {
  const counts = { install: 0 };
  const noUpdate: Recipe = {
    install() {
      counts.install++;
      return [];
    },
  };
  await harness(
    async ({ run, calls, events }) => {
      const text = `${TWO_PARTS.replace('parts = b', 'parts = b n')}[n]\nrecipe = no-update\n`;
      await run(text);
      await run(text);
      assert.equal(counts.install, 2);
      calls.length = 0;
      events.length = 0;
      const result = await run(text.replace('content = B', 'content = B2'), { parts: ['n'] });
      assert.deepEqual(result.updated, ['n']);
      assert.deepEqual(calls, [], 'a and b are neither updated nor reinstalled');
      assert.deepEqual(
        events
          .filter((e) => e.type === 'part' && e.action === 'skipped')
          .map((e) => e.type === 'part' && e.part),
        ['b', 'a'],
      );
    },
    { 'no-update': noUpdate },
  );
});

test('volatile options neither reinstall nor reach the record; previous options are visible to init', async () => {
  let seenPrevious: string | undefined;
  const secret: Recipe = {
    init(ctx) {
      seenPrevious = ctx.previous?.port;
      ctx.options.set('port', ctx.previous?.port ?? String(1024 + Math.floor(Math.random() * 1000)));
      ctx.options.set('passwd', `pw-${Math.random()}`);
      ctx.options.markVolatile('passwd');
    },
    install: () => [],
    update: () => undefined,
  };
  await harness(
    async ({ run }) => {
      const text = '[buildout]\nparts = s\n[s]\nrecipe = secret\n';
      const first = await run(text);
      const record = parseInstalled(await readFile(first.installedFile as string, 'utf8'), 'x');
      assert.equal(record.options.get('s')?.passwd, undefined);
      const port = record.options.get('s')?.port;
      const second = await run(text);
      assert.deepEqual(second.updated, ['s']);
      assert.equal(seenPrevious, port);
    },
    { secret },
  );
});

test('§1.11-11 objects set by recipes are !py! values: whole references give objects, embedded ones text', async () => {
  let whole: unknown;
  let embedded: unknown;
  const producer: Recipe = {
    init(ctx) {
      ctx.options.set('configuration', { name: 'John Doe', ports: [7777, 7778], ipv6: new Set(['::1']) });
    },
    install: () => [],
  };
  const consumer: Recipe = {
    init(ctx) {
      whole = ctx.options.getValue('whole');
      embedded = ctx.options.getValue('embedded');
    },
    install: () => [],
  };
  await harness(
    async ({ run }) => {
      await run(
        '[buildout]\nparts = c\n[p]\nrecipe = producer\n[c]\nrecipe = consumer\nwhole = ${p:configuration}\nembedded = x ${p:configuration}\n',
      );
      assert.deepEqual(whole, { name: 'John Doe', ports: [7777, 7778], ipv6: new Set(['::1']) });
      assert.equal(embedded, "x !py!{'ipv6': {'::1'}, 'name': 'John Doe', 'ports': [7777, 7778]}");
    },
    { producer, consumer },
  );
});

test('init may read other sections (initialising them) and set options that others reference', async () => {
  const order: string[] = [];
  const master: Recipe = {
    async init(ctx) {
      order.push(`init ${ctx.name}`);
      const conn = await ctx.section('connection');
      ctx.options.set('configuration.name', `from ${conn.require('url')}`);
    },
    install: () => [],
  };
  const lazy: Recipe = {
    init(ctx) {
      order.push(`init ${ctx.name}`);
      ctx.options.set('url', 'http://master');
    },
    install: () => [],
  };
  await harness(
    async ({ dir }) => {
      await dir.write({
        'buildout.cfg':
          '[buildout]\nparts = publish\n[connection]\nrecipe = lazy\n[params]\nrecipe = master\n[publish]\nrecipe = file\noutput = p.txt\ncontent = ${params:configuration.name}\n',
      });
      const profile = await loadProfile({
        configFile: join(dir.path, 'buildout.cfg'),
        recipes: { master, lazy, file: fileRecipe([]) },
      });
      assert.deepEqual(await profile.plan(), ['connection', 'params', 'publish']);
      assert.deepEqual(order, ['init params', 'init connection']);
      assert.equal(await profile.get('publish', 'content'), 'from http://master');
      assert.deepEqual([...(await profile.section('params')).dependencies], ['connection']);
    },
    { master, lazy },
  );
});

test('a recipe can run a nested buildout with its own state file (switch-softwaretype style)', async () => {
  const switcher: Recipe = {
    async install(ctx) {
      await ctx.runBuildout({
        configFile: ctx.options.require('profile'),
        installedFile: `.installed-${ctx.name}.cfg`,
        assignments: [`slap-configuration:type=${ctx.options.require('type')}`],
      });
      return [];
    },
    update(ctx) {
      return this.install(ctx);
    },
  };
  await harness(
    async ({ dir, run }) => {
      await dir.write({
        'instance-default.cfg':
          '[buildout]\nparts = out\n[slap-configuration]\ntype = none\n[out]\nrecipe = file\noutput = nested.txt\ncontent = type ${slap-configuration:type}\n',
      });
      const text =
        '[buildout]\nparts = switch\n[switch]\nrecipe = switch\nprofile = instance-default.cfg\ntype = default\n';
      await run(text);
      assert.equal(await readFile(join(dir.path, 'nested.txt'), 'utf8'), 'type default');
      const nested = parseInstalled(await readFile(join(dir.path, '.installed-switch.cfg'), 'utf8'), 'x');
      assert.deepEqual(nested.parts, ['out']);
      const outer = parseInstalled(await readFile(join(dir.path, '.installed.cfg'), 'utf8'), 'x');
      assert.deepEqual(outer.parts, ['switch']);
      await run(text, { parts: ['switch'] });
      assert.equal(
        await readFile(join(dir.path, 'nested.txt'), 'utf8'),
        'type default',
        'the selection is not inherited',
      );
    },
    { switch: switcher },
  );
});

test('custom recipes: ./path.mjs relative to the profile, entries, and npm packages', async () => {
  await harness(async ({ dir, run }) => {
    await dir.write({
      'recipes/hello.mjs': [
        "import { writeFile } from 'node:fs/promises';",
        "import { join } from 'node:path';",
        'export async function install(ctx) {',
        "  const out = join(ctx.directories.directory, ctx.options.require('output'));",
        "  await writeFile(out, 'hello ' + ctx.options.get('who'));",
        '  return out;',
        '}',
        'export function update() {}',
        "export const shout = { init(ctx) { ctx.options.set('loud', ctx.options.require('who').toUpperCase()); }, install() { return []; } };",
      ].join('\n'),
      'node_modules/my-recipes/package.json': JSON.stringify({
        name: 'my-recipes',
        type: 'module',
        exports: { '.': { import: './main.js' } },
      }),
      'node_modules/my-recipes/main.js':
        "export default { init(ctx) { ctx.options.set('from', 'npm'); }, install() { return []; } };",
      'profiles/buildout.cfg': '',
    });
    await run(
      [
        '[buildout]',
        'parts = hello loud npm check',
        '[hello]',
        'recipe = ./recipes/hello.mjs',
        'who = world',
        'output = hello.txt',
        '[loud]',
        'recipe = ./recipes/hello.mjs:shout',
        'who = world',
        '[npm]',
        'recipe = my-recipes',
        '[check]',
        'recipe = file',
        'output = check.txt',
        'content = ${loud:loud} ${npm:from}',
      ].join('\n'),
    );
    assert.equal(await readFile(join(dir.path, 'hello.txt'), 'utf8'), 'hello world');
    const record = parseInstalled(await readFile(join(dir.path, '.installed.cfg'), 'utf8'), 'x');
    assert.equal(record.options.get('check')?.content, 'WORLD npm');
    assert.match(
      record.options.get('hello')?.__buildout_signature__ ?? '',
      /hello\.mjs:default-[0-9a-f]{32}/,
    );
    await assert.rejects(
      run('[buildout]\nparts = x\n[x]\nrecipe = ./recipes/hello.mjs:nothere\n'),
      /does not export a recipe named "nothere"/,
    );
    await assert.rejects(
      run('[buildout]\nparts = x\n[x]\nrecipe = ./recipes/missing.mjs\n'),
      /no such recipe module/,
    );
  });
});

test('an edited custom recipe module takes effect on the next run in the same process; it is among the sources', async () => {
  const loads = '__slaposRecipeLoads' + String(process.hrtime.bigint());
  const recipe = (text: string): string =>
    [
      `globalThis[${JSON.stringify(loads)}] = (globalThis[${JSON.stringify(loads)}] ?? 0) + 1;`,
      "import { writeFile } from 'node:fs/promises';",
      "import { join } from 'node:path';",
      'export async function install(ctx) {',
      "  const out = join(ctx.directories.directory, 'out.txt');",
      `  await writeFile(out, ${JSON.stringify(text)});`,
      '  return out;',
      '}',
    ].join('\n');
  const evaluated = (): unknown => (globalThis as Record<string, unknown>)[loads];
  await harness(async ({ dir, run, events }) => {
    const profile = '[buildout]\nparts = x\n[x]\nrecipe = ./recipe.mjs\n';
    const out = (): Promise<string> => readFile(join(dir.path, 'out.txt'), 'utf8');
    await dir.write({ 'recipe.mjs': recipe('one') });
    await run(profile);
    assert.equal(await out(), 'one');
    assert.deepEqual(events.filter((event) => event.type === 'sources').at(-1), {
      type: 'sources',
      files: [join(dir.path, 'buildout.cfg'), join(dir.path, 'recipe.mjs')],
    });
    await run(profile);
    assert.equal(evaluated(), 1, 'an unchanged file is the module already loaded');

    await dir.write({ 'recipe.mjs': recipe('two\u2028\n') });
    assert.deepEqual((await run(profile)).installed, ['x']);
    assert.equal(await out(), 'two\u2028\n');
    assert.equal(evaluated(), 2);
    // Back to the first content: the first module again, not a third one.
    await dir.write({ 'recipe.mjs': recipe('one') });
    await run(profile);
    assert.equal(await out(), 'one');
    assert.equal(evaluated(), 2);
  });
});

test('unsupported and unknown recipes fail at init with file:line, section and recipe; nothing is recorded', async () => {
  await harness(async ({ dir, run }) => {
    const cases: [string, RegExp][] = [
      [
        '[x]\nrecipe = zc.recipe.egg\neggs = foo\n',
        /buildout\.cfg:4: \[x\] recipe = zc\.recipe\.egg: unsupported recipe: it installs Python eggs/,
      ],
      [
        '[x]\nrecipe = slapos.cookbook:certificate_authority\n',
        /\[x\] recipe = slapos\.cookbook:certificate_authority: unsupported recipe/,
      ],
      ['[x]\nrecipe = no.such.recipe\n', /\[x\] recipe = no\.such\.recipe: unknown recipe/],
      ['[x]\nrecipe = a:b:c\n', /one colon at most/],
    ];
    for (const [body, expected] of cases) {
      await assert.rejects(run(`[buildout]\nparts = x\n${body}`), (error: unknown) => {
        assert.ok(error instanceof SlapError);
        assert.match(error.message, expected);
        assert.ok(['SLAP_ERR_RECIPE_UNSUPPORTED', 'SLAP_ERR_PROFILE'].includes(error.code), error.code);
        // The hint points to where writing a recipe is explained (the README has no such section).
        if (/unsupported recipe|unknown recipe/.test(error.message))
          assert.match(error.hint ?? '', /docs\/recipes\.md/, error.message);
        return true;
      });
      assert.equal(existsSync(join(dir.path, '.installed.cfg')), false);
    }
  });
});

test('an aborted run stops before the next part', async () => {
  const controller = new AbortController();
  const stopper: Recipe = {
    install() {
      controller.abort(new Error('stop requested'));
      return [];
    },
  };
  await harness(
    async ({ run, calls }) => {
      await assert.rejects(
        run(`${TWO_PARTS.replace('parts = b', 'parts = s b')}[s]\nrecipe = stopper\n`, {
          signal: controller.signal,
        }),
        /stop requested/,
      );
      assert.deepEqual(calls, []);
    },
    { stopper },
  );
});

test('uninstallAll uninstalls every recorded part in reverse order, without the profile', async () => {
  await harness(async (h) => {
    await h.run(TWO_PARTS);
    assert.ok(existsSync(join(h.dir.path, 'a.txt')) && existsSync(join(h.dir.path, 'b.txt')));
    // The profile may be gone by the time an installation is destroyed.
    await writeFile(join(h.dir.path, 'buildout.cfg'), '[buildout]\nparts = broken\n');
    h.calls.length = 0;
    const events: string[] = [];
    const result = await uninstallAll({
      directory: h.dir.path,
      recipes: { file: fileRecipe(h.calls) },
      onProgress: (event) => {
        if (event.type === 'part') events.push(`${event.action} ${event.part}`);
      },
    });
    assert.deepEqual(result.uninstalled, ['b', 'a']);
    assert.deepEqual(h.calls, ['uninstall b B uses computed-by-a', 'uninstall a A']);
    assert.deepEqual(events, ['uninstalling b', 'uninstalled b', 'uninstalling a', 'uninstalled a']);
    assert.equal(existsSync(join(h.dir.path, 'a.txt')), false);
    assert.equal(existsSync(join(h.dir.path, 'b.txt')), false);
    assert.equal(existsSync(join(h.dir.path, '.installed.cfg')), false, 'the empty record is removed');
    assert.deepEqual((await uninstallAll({ directory: h.dir.path })).uninstalled, [], 'nothing left to do');
  });
});

test('§1.10 a recorded path that became a dangling symlink counts as missing: the part is reinstalled', async () => {
  const calls: string[] = [];
  const link: Recipe = {
    async install(ctx) {
      calls.push('install');
      const { symlink, writeFile: write } = await import('node:fs/promises');
      const target = join(ctx.directories.directory, 'target.txt');
      const path = join(ctx.directories.directory, 'link');
      await write(target, 'x');
      ctx.created(path);
      await symlink(target, path);
      return [path];
    },
    update() {
      calls.push('update');
    },
  };
  await harness(
    async ({ dir, run }) => {
      const profile = '[buildout]\nparts = l\n[l]\nrecipe = link\n';
      await run(profile);
      await run(profile);
      assert.deepEqual(calls, ['install', 'update']);
      await import('node:fs/promises').then((fs) => fs.rm(join(dir.path, 'target.txt')));
      const result = await run(profile);
      assert.deepEqual(result.installed, ['l']);
      assert.deepEqual(calls, ['install', 'update', 'install']);
    },
    { link },
  );
});

test('a successful run ends with the local files it read: profiles, what they extend, local templates', async () => {
  await harness(async ({ dir, run, events }) => {
    await dir.write({
      'base.cfg': '[buildout]\nparts = rendered\n',
      'sub dir/template.in': 'hello ${:name}\n',
    });
    await run(
      [
        '[buildout]',
        'extends = base.cfg',
        '[rendered]',
        'recipe = slapos.recipe.template',
        `url = ${join(dir.path, 'sub dir', 'template.in')}`,
        'output = ${buildout:directory}/out.txt',
        'name = world',
        '',
      ].join('\n'),
    );
    assert.equal(await readFile(join(dir.path, 'out.txt'), 'utf8'), 'hello world\n');
    const sources = events.filter((event) => event.type === 'sources');
    assert.equal(sources.length, 1, 'one sources event, at the end');
    assert.deepEqual(sources[0], {
      type: 'sources',
      files: [
        join(dir.path, 'base.cfg'),
        join(dir.path, 'buildout.cfg'),
        join(dir.path, 'sub dir', 'template.in'),
      ].sort(),
    });
    assert.equal(events.at(-1)?.type, 'sources');
  });
});
