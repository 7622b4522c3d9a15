/**
 * Differential tests of Python code in profiles: the same sequences of profiles run by our engine
 * (through the bridge) and by Debian's python3-zc.buildout, the oracle. zc.buildout has no
 * slapos.recipe.build, so the test writes a tiny develop egg (setup.py + a module with the
 * `zc.buildout` entry point) implementing that recipe's documented default entry: `init` runs in the
 * constructor, `install` must create `location` (default `parts/<part>`; removed first, and removed
 * again if the code fails) which buildout records, `update` runs on update and stands in for a
 * missing `install`. Compared after each step: what a probe part reads through `self.buildout`
 * and `${part:option}` (options set by `init`), the files under the buildout directory (what
 * install created, what uninstall removed when a part changed or went), and whether the step failed
 * with the Python exception's message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ORACLE_PYTHON } from '../../testing/buildout-oracle.ts';
import { tempDir, type TempDir } from '../../testing/buildout.ts';
import { execFile } from '../../lib/exec.ts';
import { runBuildout } from '../engine.ts';

const ENV = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };

const SETUP_PY = `from setuptools import setup
setup(name='slapos.recipe.build', version='0', py_modules=['srb_oracle'],
      entry_points={'zc.buildout': ['default = srb_oracle:Script']})
`;

/** slapos.recipe.build's documented default entry, for zc.buildout (test-only). */
const RECIPE_PY = `import os, shutil

def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)

class Script(object):
    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        self._code = dict((phase, options.get(phase)) for phase in ('init', 'install', 'update'))
        if any(self._code.values()):
            options.setdefault('location', os.path.join(buildout['buildout']['parts-directory'], name))
        if self._code['init']:
            self._exec('init')

    def _exec(self, phase):
        namespace = {'self': self, 'options': self.options, 'location': self.options.get('location'),
                     'os': os, 'shutil': shutil}
        exec(compile(self._code[phase], '<%s:%s>' % (self.name, phase), 'exec'), namespace)

    def install(self):
        if not self._code['install']:
            self.update()
            return ''
        location = self.options['location']
        _remove(location)
        try:
            self._exec('install')
        except BaseException:
            _remove(location)
            raise
        return location

    def update(self):
        if self._code['update']:
            self._exec('update')
`;

const DRIVER_PY = `import collections, collections.abc, sys
collections.MutableMapping = collections.abc.MutableMapping
import zc.buildout.buildout
zc.buildout.buildout.main(sys.argv[1:])
`;

/** A part that writes what it reads (relative to the buildout directory) to probe.json, every run. */
function probe(reads: [string, string][], substituted: Record<string, string>): string {
  const code = `
import json
d = self.buildout['buildout']['directory']
seen = {}
for s, o in ${JSON.stringify(reads)}:
    seen[s + ':' + o] = self.buildout[s].get(o, '<missing>').replace(d, '<dir>')
for o in ${JSON.stringify(Object.keys(substituted))}:
    seen['probe:' + o] = options[o].replace(d, '<dir>')
with open(location, 'w') as f:
    json.dump(seen, f, sort_keys=True)`;
  const body = code
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
  return `[probe]
recipe = slapos.recipe.build
location = \${buildout:directory}/probe.json
${Object.entries(substituted)
  .map(([k, v]) => `${k} = ${v}`)
  .join('\n')}
install =${body}
update =${body}
`;
}

interface Outcome {
  failed: boolean;
  message: string;
  files: Record<string, string>;
}

const SKIP = new Set(['.installed.cfg', 'bin', 'develop-eggs', 'eggs', 'buildout.cfg', 'driver.py']);

async function tree(
  root: string,
  dir = root,
  into: Record<string, string> = {},
): Promise<Record<string, string>> {
  for (const name of (await readdir(dir)).sort()) {
    if (dir === root && SKIP.has(name)) continue;
    const path = join(dir, name);
    const rel = path.slice(root.length + 1);
    const info = await lstat(path);
    if (info.isSymbolicLink()) into[rel] = `-> ${await readlink(path)}`;
    else if (info.isDirectory()) {
      into[`${rel}/`] = 'dir';
      await tree(root, path, into);
    } else into[rel] = (await readFile(path, 'utf8')).replaceAll(root, '<dir>');
  }
  return into;
}

async function runOracle(dir: TempDir, egg: string, profile: string): Promise<Outcome> {
  await dir.write({ 'buildout.cfg': `[buildout]\ndevelop = ${egg}\n${profile}`, 'driver.py': DRIVER_PY });
  const run = await execFile(ORACLE_PYTHON, [join(dir.path, 'driver.py'), '-U', '-o', '-c', 'buildout.cfg'], {
    cwd: dir.path,
    env: { ...ENV, HOME: dir.path },
    timeoutMs: 120_000,
  });
  return { failed: run.exitCode !== 0, message: run.stdout + run.stderr, files: await tree(dir.path) };
}

async function runOurs(dir: TempDir, profile: string): Promise<Outcome> {
  await writeFile(join(dir.path, 'buildout.cfg'), `[buildout]\n${profile}`);
  try {
    await runBuildout({
      configFile: join(dir.path, 'buildout.cfg'),
      offline: true,
      env: { ...ENV, HOME: dir.path },
    });
    return { failed: false, message: '', files: await tree(dir.path) };
  } catch (error) {
    return {
      failed: true,
      message: error instanceof Error ? error.message : String(error),
      files: await tree(dir.path),
    };
  }
}

interface Step {
  profile: string;
  /** For a failing step: what both error messages must say. */
  error?: RegExp;
}

async function compareSteps(name: string, steps: Step[]): Promise<void> {
  const eggDir = await tempDir('srb-egg-');
  const oracleDir = await tempDir('srb-oracle-');
  const ourDir = await tempDir('srb-ours-');
  try {
    await eggDir.write({ 'setup.py': SETUP_PY, 'srb_oracle.py': RECIPE_PY });
    for (const [i, step] of steps.entries()) {
      const oracle = await runOracle(oracleDir, eggDir.path, step.profile);
      const ours = await runOurs(ourDir, step.profile);
      const label = `${name}, step ${i + 1}`;
      assert.equal(oracle.failed, step.error !== undefined, `${label}: zc.buildout ${oracle.message}`);
      assert.equal(ours.failed, oracle.failed, `${label}: ours ${ours.message}`);
      if (step.error) {
        assert.match(oracle.message, step.error, `${label}: zc.buildout`);
        assert.match(ours.message, step.error, `${label}: ours`);
        assert.doesNotMatch(ours.message, /Traceback/, label);
      }
      assert.deepEqual(ours.files, oracle.files, `${label}: files`);
    }
  } finally {
    await Promise.all([eggDir.remove(), oracleDir.remove(), ourDir.remove()]);
  }
}

const GREETER = (suffix: string): string => `[src]
a = world
[py]
recipe = slapos.recipe.build
init =
  options['greeting'] = 'hello ' + self.buildout['src']['a']
  options['from-other'] = self.buildout['other']['location'] + self.buildout['other']['z']
install =
  os.makedirs(os.path.join(location, 'sub'))
  with open(os.path.join(location, 'sub', 'f'), 'w') as f:
    f.write(options['greeting'] + '${suffix}')
  os.symlink('sub/f', os.path.join(location, 'link'))
[other]
recipe = slapos.recipe.build
init =
  options['z'] = '/' + self.name
[user]
recipe = slapos.recipe.build
v = \${py:greeting}
install =
  with open(location, 'w') as f:
    f.write(options['v'] + '|' + self.name)
[no-install]
recipe = slapos.recipe.build
update =
  with open(os.path.join(self.buildout['buildout']['directory'], 'updated-' + self.name), 'a') as f:
    f.write('u')
`;

const PROBE = probe(
  [
    ['py', 'greeting'],
    ['py', 'from-other'],
    ['other', 'z'],
    ['py', 'location'],
    ['user', 'v'],
    ['user', 'location'],
    ['no-install', 'location'],
    ['src', 'nothing'],
  ],
  { 'by-ref': '${py:greeting} ${user:v}' },
);

const SMALL_PROBE = probe(
  [
    ['py', 'greeting'],
    ['src', 'a'],
  ],
  { 'by-ref': '${py:from-other}' },
);

test(
  'init options seen by other sections, install output recorded and uninstalled, as zc.buildout does',
  { timeout: 600_000 },
  async () => {
    await compareSteps('lifecycle', [
      { profile: `parts = py user no-install probe\n${GREETER('.')}${PROBE}` },
      // Nothing changed: update runs (no-install's update code again).
      { profile: `parts = py user no-install probe\n${GREETER('.')}${PROBE}` },
      // py's install changed: its old output is uninstalled, the new one installed.
      { profile: `parts = py user no-install probe\n${GREETER('!')}${PROBE}` },
      // user and no-install left the parts (and nothing refers to them): user's file is removed.
      { profile: `parts = py probe\n${GREETER('!')}${SMALL_PROBE}` },
      { profile: `parts =\n${GREETER('!')}` },
    ]);
  },
);

test(
  'errors in init and install: both fail with the exception, nothing of the failed install is left',
  { timeout: 600_000 },
  async () => {
    const failing = (code: string, phase = 'install'): string => `parts = py
[py]
recipe = slapos.recipe.build
marker = ${code.length}
${phase} =
  os.mkdir(location)
  ${code}
`;
    await compareSteps('errors', [
      { profile: failing("open(os.path.join(location, 'ok'), 'w').close()") },
      { profile: failing('print(1 / 0.)'), error: /ZeroDivisionError: float division by zero/ },
      {
        profile: `parts = py\n[py]\nrecipe = slapos.recipe.build\ninit =\n  from zc.buildout import UserError\n  raise UserError('bad parameter: ' + self.name)\n`,
        error: /bad parameter: py/,
      },
      { profile: failing("options['x'] = options['no-such-option']"), error: /no-such-option/ },
    ]);
  },
);
