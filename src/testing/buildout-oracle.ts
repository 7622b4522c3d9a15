/**
 * The reference implementation as a test oracle: Debian's python3-zc.buildout (2.13) resolves the
 * same profiles as our engine, and differential tests compare every option. Never a runtime
 * dependency. Recipes are not loaded: a section whose recipe starts with `fake` gets
 * `computed = computed-by-<section>` from its "constructor" (mirrored by `fakeRecipe` below), any
 * other recipe does nothing.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from '../lib/exec.ts';
import type { Recipe } from '../buildout/recipe.ts';

export const ORACLE_PYTHON = '/usr/bin/python3';

const SCRIPT = String.raw`
import collections, collections.abc, json, os, sys
collections.MutableMapping = collections.abc.MutableMapping
import zc.buildout.buildout as bo

def initialize(self):
    self.recipe = None
    if self._data.get('recipe', self._raw.get('recipe', '')).startswith('fake'):
        self['computed'] = 'computed-by-' + self.name
bo.Options.initialize = initialize

cases = json.load(open(sys.argv[1]))
results = []
for case in cases:
    os.chdir(case['cwd'])
    try:
        b = bo.Buildout(case['config'], [tuple(a) for a in case['assignments']], user_defaults=False)
        for part in (b['buildout']['parts'] or '').split():
            b[part]['recipe']
        parts = list(b._parts)
        sections = {}
        for name in list(b._raw):
            try:
                options = b[name]
                sections[name] = dict((k, options[k]) for k in options.keys())
            except Exception as e:
                sections[name] = {'__error__': str(e)}
        results.append({'parts': parts, 'sections': sections})
    except Exception as e:
        results.append({'error': '%s: %s' % (type(e).__name__, e)})
json.dump(results, open(sys.argv[2], 'w'))
`;

export interface OracleCase {
  /** Absolute path of the root profile. */
  config: string;
  cwd: string;
  assignments: [string, string, string][];
}

export type OracleResult =
  | { parts: string[]; sections: Record<string, Record<string, string>>; error?: undefined }
  | { error: string; parts?: undefined; sections?: undefined };

/** Resolves every case with zc.buildout in one Python process. */
export async function resolveWithZcBuildout(cases: OracleCase[]): Promise<OracleResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-oracle-'));
  try {
    await writeFile(join(dir, 'oracle.py'), SCRIPT);
    await writeFile(join(dir, 'cases.json'), JSON.stringify(cases));
    const run = await execFile(
      ORACLE_PYTHON,
      [join(dir, 'oracle.py'), join(dir, 'cases.json'), join(dir, 'out.json')],
      {
        timeoutMs: 120_000,
        env: { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' },
      },
    );
    if (run.exitCode !== 0) throw new Error(`zc.buildout oracle failed (${run.exitCode}): ${run.stderr}`);
    return JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')) as OracleResult[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Our counterpart of the oracle's `fake` recipe. */
export const fakeRecipe: Recipe = {
  init(ctx) {
    ctx.options.set('computed', `computed-by-${ctx.name}`);
  },
  install() {
    return [];
  },
};
