import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { ORACLE_PYTHON } from '../../testing/buildout-oracle.ts';
import { profileRunner, serveDirectory, tempDir } from '../../testing/buildout.ts';
import { execFile } from '../../lib/exec.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { loadProfile } from '../engine.ts';
import { PyFloat, PyTuple, pyRepr, type PyValue } from '../py-value.ts';
import type { Recipe } from '../recipe.ts';
import { PythonBridge, SnippetError, locatePython, type SnippetHost } from './bridge.ts';

const PYTHON = locatePython(process.env) ?? '/usr/bin/python3';

function bridge(timeoutMs = 60_000, python = PYTHON): PythonBridge {
  return new PythonBridge({ python, env: { PATH: process.env.PATH }, cwd: '/', timeoutMs });
}

/** A host serving one section `s` from a map, recording what the snippet prints. */
function mapHost(values: Map<string, PyValue>, printed: string[] = []): SnippetHost {
  return {
    call(method, args) {
      const key = args[1] as string;
      if (method === 'get')
        return Promise.resolve(values.has(key) ? [true, values.get(key) ?? null] : [false, null]);
      if (method === 'set') {
        values.set(key, args[2] ?? null);
        return Promise.resolve(null);
      }
      if (method === 'keys') return Promise.resolve([...values.keys()]);
      return Promise.reject(new Error(`unexpected ${method}`));
    },
    output(_stream, line) {
      printed.push(line);
    },
  };
}

test('values cross the protocol and come back exactly: hostile strings, ints of any size, floats, containers', async () => {
  const random = seededRandom(11);
  const py = bridge();
  try {
    for (let i = 0; i < 150; i++) {
      const text = hostileString(random);
      const value: PyValue =
        i % 3 === 0
          ? text
          : i % 3 === 1
            ? [text, new PyTuple([text, 2n ** 70n, -5, 1.5, new PyFloat(2), null, true]), new Set([text])]
            : Object.assign(Object.create(null) as Record<string, PyValue>, { [text]: { nested: [text] } });
      const values = new Map<string, PyValue>([['in', value]]);
      await py.run('s', 'init', "options['out'] = options['in']\n", undefined, mapHost(values));
      assert.equal(pyRepr(values.get('out') as PyValue), pyRepr(value), `case ${i}`);
      if (typeof value === 'string') assert.equal(values.get('out'), value);
    }
  } finally {
    await py.close();
  }
});

test('a snippet prints without disturbing the protocol; an exception names its type, message and line', async () => {
  const py = bridge();
  const printed: string[] = [];
  try {
    await py.run(
      's',
      'install',
      'print("{\\"op\\": \\"done\\", \\"id\\": 1}")\nprint("hello")\n',
      undefined,
      mapHost(new Map(), printed),
    );
    assert.deepEqual(printed, ['{"op": "done", "id": 1}', 'hello']);
    await assert.rejects(
      py.run('s', 'install', 'x = 1\ny = x / 0\n', undefined, mapHost(new Map())),
      (error: unknown) => {
        assert.ok(error instanceof SnippetError);
        assert.equal(error.type, 'ZeroDivisionError');
        assert.equal(error.line, 2);
        return true;
      },
    );
    await assert.rejects(py.run('s', 'init', 'def (:\n', undefined, mapHost(new Map())), /SyntaxError/);
    // The process survived both: the next snippet runs.
    const values = new Map<string, PyValue>();
    await py.run('s', 'init', "options['ok'] = 'yes'\n", undefined, mapHost(values));
    assert.equal(values.get('ok'), 'yes');
  } finally {
    await py.close();
  }
});

test("a snippet's output, its subprocesses' included, goes to that snippet and none to the next", async () => {
  const py = bridge();
  try {
    for (let i = 0; i < 10; i++) {
      const first: string[] = [];
      const second: string[] = [];
      await py.run(
        's',
        'install',
        `print('a${i}')\ncall(['seq', '1', '2000'])\nsys.stderr.write('c${i}')\n`,
        undefined,
        mapHost(new Map(), first),
      );
      await py.run('t', 'install', 'pass\n', undefined, mapHost(new Map(), second));
      assert.equal(first.length, 2002, `run ${i}`);
      assert.ok(first.includes(`a${i}`) && first.includes(`c${i}`) && first.includes('2000'), `run ${i}`);
      assert.deepEqual(second, []);
    }
  } finally {
    await py.close();
  }
});

test('a hung snippet hits the deadline, its process group is killed, and the next snippet gets a new process', async () => {
  const py = bridge(3000);
  const printed: string[] = [];
  try {
    await assert.rejects(
      py.run(
        's',
        'install',
        'import subprocess\nprint(subprocess.Popen(["sleep", "600"]).pid)\nwhile True: pass\n',
        undefined,
        mapHost(new Map(), printed),
      ),
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_TIMEOUT',
    );
    const sleeper = Number(printed[0]);
    assert.ok(sleeper > 0, printed.join('|'));
    // The snippet's own child was killed with it (its process group); a zombie is gone for kill(0) too
    // once reaped by init, so wait until it is.
    for (let i = 0; i < 100 && isAlive(sleeper); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isAlive(sleeper), false);
    const values = new Map<string, PyValue>();
    await py.run('s', 'init', "options['again'] = 'yes'\n", undefined, mapHost(values));
    assert.equal(values.get('again'), 'yes');
  } finally {
    await py.close();
  }
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const SOURCE_RECIPE = (text: string): Recipe => ({
  init(ctx) {
    ctx.options.set(
      'in',
      text.replaceAll('${', () => '$${'),
    );
  },
  install: () => undefined,
});

test('options set by init are seen by ${part:option} elsewhere, exactly (hostile text), and by other snippets', async () => {
  const random = seededRandom(5);
  const dir = await tempDir();
  try {
    for (let i = 0; i < 40; i++) {
      const text = hostileString(random);
      await dir.write({
        'buildout.cfg': `[buildout]
parts = py
[src]
recipe = test.source
[native]
recipe = slapos.recipe.build:download
url = file:///nowhere
[py]
recipe = slapos.recipe.build
init =
  options['out'] = self.buildout['src']['in']
  options['obj'] = {'k': (1, 2.0, None), 2: [self.name]}
  options['native-target'] = self.buildout['native']['target']
  options['mine'] = options['location']
[user]
v = \${py:out}
t = \${py:native-target}
`,
      });
      const profile = await loadProfile({
        configFile: join(dir.path, 'buildout.cfg'),
        recipes: { 'test.source': SOURCE_RECIPE(text) },
      });
      try {
        assert.equal(await profile.get('user', 'v'), text, `case ${i}`);
        assert.equal(await profile.get('user', 't'), join(dir.path, 'parts', 'native', 'native'));
        const py = await profile.section('py');
        assert.equal(pyRepr(py.getValue('obj') as PyValue), "{2: ['py'], 'k': (1, 2.0, None)}");
        assert.equal(py.get('mine'), join(dir.path, 'parts', 'py'));
        // Reading another section recorded it as a dependency (its change reinstalls the part).
        assert.deepEqual([...py.dependencies].sort(), ['native', 'src']);
      } finally {
        await profile.close();
      }
    }
  } finally {
    await dir.remove();
  }
});

test('install creates location, recorded and removed when the part changes or goes; update runs its code', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const profile = (content: string, extra = ''): string => `[buildout]
parts = py ${extra}
[py]
recipe = slapos.recipe.build
content = ${content}
install =
  os.makedirs(location)
  with open(os.path.join(location, 'f'), 'w') as f:
    f.write(options['content'])
update =
  with open(os.path.join(self.buildout['buildout']['directory'], 'updates'), 'a') as f:
    f.write('u')
[other]
recipe = slapos.recipe.build
install =
  open(location, 'w').close()
`;
    const first = await run(profile('one', 'other'));
    assert.deepEqual(first.installed, ['py', 'other']);
    assert.equal(await readFile(join(dir.path, 'parts', 'py', 'f'), 'utf8'), 'one');
    assert.ok(existsSync(join(dir.path, 'parts', 'other')));
    const again = await run(profile('one', 'other'));
    assert.deepEqual(again.updated, ['py', 'other']);
    assert.equal(await readFile(join(dir.path, 'updates'), 'utf8'), 'u');
    const changed = await run(profile('two'));
    assert.deepEqual(changed.uninstalled.sort(), ['other', 'py']);
    assert.equal(existsSync(join(dir.path, 'parts', 'other')), false);
    assert.equal(await readFile(join(dir.path, 'parts', 'py', 'f'), 'utf8'), 'two');
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'parts', 'py')), false);
  } finally {
    await dir.remove();
  }
});

test('a failing snippet: a SlapError naming the part, the exception and its line; a failed install leaves nothing', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await assert.rejects(
      run(
        '[buildout]\nparts = py\n[py]\nrecipe = slapos.recipe.build\ninstall =\n  os.mkdir(location)\n  print(1 / 0.)\n',
      ),
      (error: unknown) => {
        assert.ok(error instanceof SlapError);
        assert.equal(error.code, 'SLAP_ERR_RECIPE_FAILED');
        assert.equal(
          error.message,
          'Installing part py (slapos.recipe.build): py:install: ZeroDivisionError: float division by zero (line 2 of install)',
        );
        assert.doesNotMatch(error.message, /Traceback/);
        return true;
      },
    );
    assert.equal(existsSync(join(dir.path, 'parts', 'py')), false);
    await assert.rejects(
      run(
        '[buildout]\nparts = py\n[py]\nrecipe = slapos.recipe.build\ninit =\n  from zc.buildout import UserError\n  raise UserError("bad parameter")\n',
      ),
      /^SlapError: Initializing part py \(slapos\.recipe\.build\): py:init: bad parameter \(line 2 of init\)$/,
    );
    await assert.rejects(
      run('[buildout]\nparts = py\n[py]\nrecipe = slapos.recipe.build\ninit =\n  self.buildout["missing"]\n'),
      /py:init: KeyError: 'missing' \(line 1 of init\)/,
    );
  } finally {
    await dir.remove();
  }
});

test('without python3 on the PATH, Python code is refused with a clear error at init', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await assert.rejects(
      run('[buildout]\nparts = py\n[py]\nrecipe = slapos.recipe.build\ninstall =\n  pass\n', {
        env: { PATH: '' },
      }),
      (error: unknown) => {
        assert.ok(error instanceof SlapError);
        assert.equal(error.code, 'SLAP_ERR_RECIPE_UNSUPPORTED');
        assert.match(
          error.message,
          /Initializing part py \(slapos\.recipe\.build\): py:install: this option is Python code/,
        );
        assert.match(error.hint ?? '', /python3/);
        return true;
      },
    );
    assert.equal(existsSync(join(dir.path, '.installed.cfg')), false);
  } finally {
    await dir.remove();
  }
});

test("the recipe's helpers: download (url and md5sum options by default), extract, guessworkdir, copyTree; temporary files removed", async () => {
  const site = await tempDir();
  const dir = await tempDir();
  const tmp = join(dir.path, 'tmp');
  try {
    await site.write({
      'src/app-1.0/bin/tool': '#!/bin/sh\n',
      'src/app-1.0/.git/x': 'x',
      'src/app-1.0/README': 'r',
    });
    await execFile('tar', ['-czf', join(site.path, 'app.tar.gz'), '-C', join(site.path, 'src'), 'app-1.0']);
    const md5 = createHash('md5')
      .update(await readFile(join(site.path, 'app.tar.gz')))
      .digest('hex');
    await mkdir(tmp);
    const server = await serveDirectory(site.path);
    try {
      const { run, events } = profileRunner(dir.path, {
        env: { PATH: process.env.PATH, TMPDIR: tmp, HOME: dir.path },
      });
      await run(`[buildout]
parts = app again
[app]
recipe = slapos.recipe.build
url = ${server.url}/app.tar.gz
md5sum = ${md5}
install =
  self.copyTree(guessworkdir(self.extract(self.download())), location, ignore_dir_list=['.git'])
[again]
recipe = slapos.recipe.build
install =
  import shutil
  os.makedirs(location)
  shutil.copy(self.download('${server.url}/app.tar.gz', '${md5}'), os.path.join(location, 'copy.tgz'))
  try:
    self.download('${server.url}/app.tar.gz', '0' * 32)
  except Exception as e:
    options['mismatch'] = 'refused'
    print('refused: %s' % (e,))
`);
      assert.deepEqual((await readdir(join(dir.path, 'parts', 'app'))).sort(), ['README', 'bin']);
      assert.equal(await readFile(join(dir.path, 'parts', 'app', 'bin', 'tool'), 'utf8'), '#!/bin/sh\n');
      assert.ok((await readFile(join(dir.path, 'parts', 'again', 'copy.tgz'))).length > 0);
      // A wrong checksum is an exception the snippet can catch; its print is the part's output.
      const printed = events.flatMap((e) => (e.type === 'output' && e.part === 'again' ? [e.line] : []));
      assert.equal(printed.length, 1, printed.join('\n'));
      assert.match(printed[0] ?? '', /^refused: .*md5/i);
      // The downloaded archive and the extraction directory were temporary.
      assert.deepEqual(await readdir(tmp), []);
    } finally {
      await server.close();
    }
  } finally {
    await site.remove();
    await dir.remove();
  }
});

test('zc.buildout is the same stand-in on every node: UserError importable, easy_install not', async () => {
  // Debian's python3, where python3-zc.buildout (the oracle of the differential tests) is installed.
  const py = bridge(60_000, ORACLE_PYTHON);
  try {
    const values = new Map<string, PyValue>();
    await py.run(
      's',
      'init',
      [
        'from zc.buildout import UserError',
        "options['user-error'] = UserError.__name__",
        'try:',
        '    import zc.buildout.easy_install',
        "    options['easy-install'] = 'imported'",
        'except ImportError as e:',
        "    options['easy-install'] = 'ImportError'",
        '',
      ].join('\n'),
      undefined,
      mapHost(values),
    );
    assert.deepEqual(Object.fromEntries(values), {
      'user-error': 'UserError',
      'easy-install': 'ImportError',
    });
  } finally {
    await py.close();
  }
});
