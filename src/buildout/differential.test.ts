/**
 * Differential tests: the same profiles resolved by our engine and by zc.buildout (Debian's
 * python3-zc.buildout, the oracle) must give the same value for every option of every section and
 * the same install order. Only language features the SlapOS fork left unchanged are compared
 * (profiles.md §0): no `$$` escapes, no `_profile_base_location_`, no markers in conditions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  fakeRecipe,
  resolveWithZcBuildout,
  type OracleCase,
  type OracleResult,
} from '../testing/buildout-oracle.ts';
import { tempDir } from '../testing/buildout.ts';
import { seededRandom } from '../testing/hostile-strings.ts';
import { resolveProfile } from './engine.ts';
import { parseAssignment } from './loader.ts';

interface Case {
  name: string;
  files: Record<string, string>;
  assignments?: string[];
}

const HANDWRITTEN: Case[] = [
  {
    name: 'parsing (example 1.1-a, 1.1-b)',
    files: {
      'buildout.cfg':
        '[buildout]\nparts =\n[a]\ninline = first\n    second\n      third\n\n    fourth\n# col0 comment\n  # indented comment\n    fifth ; not a comment\nblock =\n    l1\n      l2 indented\n\n    l3\n# comment in block\n    l4\nempty =\nx=1\ntrail = value # not a comment\n[t]\ncontext =\n  section buildout buildout\n# partition_ipv6\n  key partition_ipv6 slap-configuration:ipv6-random\n',
    },
  },
  {
    name: 'reopened sections and duplicate keys, including duplicate +=',
    files: {
      'buildout.cfg':
        '[buildout]\nparts =\n[s]\na = 1\nb = 1\n[s]\na = 2\nparts += x\nparts += y\n[buildout]\nparts += p1\nparts += p2\n',
    },
  },
  {
    name: 'conditional sections (Python expressions)',
    files: {
      'buildout.cfg':
        '[buildout]\nparts =\n[a]\nx = 1\n[b:python2]\nx = py2\n[b:python3]\ny = py3\n[c:linux and bits64]\nz = 1\n[d:sys.version_info < (3, 0)]\nw = old\n[e:not python2 or windows]\nv = 1\n',
    },
  },
  {
    name: 'extends: order, nesting, subdirectories, ../, diamonds (1.3-a), merge semantics (1.4-a)',
    files: {
      'buildout.cfg':
        '[buildout]\nextends = sub/a.cfg b.cfg diamond-a.cfg diamond-b.cfg\nparts =\n[s]\nv = root\n[m]\np -= base1\np += top\n',
      'sub/a.cfg': '[buildout]\nextends = ../c.cfg deeper/d.cfg\n[s]\nv = a\nfrom-a = yes\n',
      'sub/deeper/d.cfg': '[s]\nv = d\nfrom-d = yes\n[m]\np = base1\n  base2\nn += fromfirst\n',
      'c.cfg': '[s]\nv = c\n[t]\nx = c\n',
      'b.cfg': '[t]\nx = b\n[m]\np += mid\nn = midassign\n',
      'diamond-c.cfg': '[dia]\nl = c\n',
      'diamond-a.cfg': '[buildout]\nextends = diamond-c.cfg\n[dia]\nl += a\n',
      'diamond-b.cfg': '[buildout]\nextends = diamond-c.cfg\n[dia]\nl += b\n',
    },
  },
  {
    name: '+= and -= edge cases: stray keys, local = with +=, += onto empty',
    files: {
      'buildout.cfg':
        '[buildout]\nextends = base.cfg\nparts +=\n[lonely]\np = x\np += y\n[both]\nk += w\nk = v\n[empty]\ne += y\n[rm]\nr -= two\nr += four\n',
      'base.cfg': '[both]\nk = base\n[empty]\ne =\n[rm]\nr = one\n  two\n  three\n',
    },
  },
  {
    name: 'macros (example 1.6-a), chains, += against macro values',
    files: {
      'buildout.cfg':
        '[buildout]\nparts =\n[m1]\nx = 1\ny = from-m1\nn = ${:_buildout_section_name_}\n[m2]\ny = from-m2\nz = ${:x}-z\n[c]\n<= m1\n   m2\nx += 2\n[base]\na = 1\nb = base\nl = one\n  two\n[mid]\n<= base\nb = mid\nl -= one\n[top]\n<= mid\nc = ${:b}\nl += three\n',
    },
  },
  {
    name: 'substitution: ${:x}, names with dots, _buildout_section_name_, buildout directories',
    files: {
      'buildout.cfg':
        '[buildout]\nparts =\nbin-directory = ${buildout:directory}/sbin\nparts-directory = p\n[a]\nconfiguration.foo = bar\nx = ${:configuration.foo}/${a:configuration.foo}/${:_buildout_section_name_}\ndirs = ${buildout:bin-directory} ${buildout:parts-directory} ${buildout:eggs-directory}\ny = ${b:z}\n[b]\nz = ${a:configuration.foo}-z\nmulti = ${a:x}\n  ${b:z}\n',
    },
  },
  {
    name: 'implicit parts and install order (example 1.8-a)',
    files: {
      'buildout.cfg':
        '[buildout]\nparts = directory publish\n[directory]\nrecipe = fake\nhome = ${buildout:directory}\n[instance-parameter]\nrecipe = fake\n[web-b]\nrecipe = fake\nip = ${instance-parameter:computed}\n[web-a]\nrecipe = fake\nip = ${instance-parameter:computed}\n[publish]\nrecipe = fake:other\nname = ${instance-parameter:computed}\nurl.b = ${web-b:ip}\nurl.a = ${web-a:ip}\n[unreferenced]\nrecipe = fake\n',
    },
  },
  {
    name: 'command-line assignments win',
    files: { 'buildout.cfg': '[buildout]\nparts = a\n[a]\nrecipe = fake\nx = file\ny = ${:x}\n' },
    assignments: ['a:x=cli', 'parts=a b', 'b:recipe=fake', 'b:v = spaced value '],
  },
  {
    name: 'errors in referenced and unreferenced sections',
    files: {
      'buildout.cfg':
        '[buildout]\nparts =\n[a]\nx = ${nosection:y}\n[b]\nx = ${a:nope}\n[c]\nx = ${d:y}\n[d]\ny = ${c:x}\n[e]\n<= nothere\n',
    },
  },
  {
    name: 'extends cycle',
    files: {
      'buildout.cfg': '[buildout]\nextends = a.cfg\n',
      'a.cfg': '[buildout]\nextends = buildout.cfg\n',
    },
  },
  { name: 'missing part section', files: { 'buildout.cfg': '[buildout]\nparts = ghost\n' } },
  { name: 'part without recipe', files: { 'buildout.cfg': '[buildout]\nparts = a\n[a]\nx = 1\n' } },
];

/** Random profiles mixing extends, reopened sections, +=/-=, macros, references and recipes. */
function generated(seed: number): Case {
  const rnd = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)] as T;
  const sections = ['s0', 's1', 's2', 's3', 's4'];
  const keys = ['k0', 'k1', 'k2', 'k3'];
  const words = ['alpha', 'beta', 'gamma', 'delta', 'alpha beta'];
  const defined: [string, string][] = [];
  const reference = (): string => {
    const [section, key] = defined.length > 0 && rnd() < 0.9 ? pick(defined) : [pick(sections), pick(keys)];
    return `\${${section}:${key}}`;
  };
  const value = (): string => {
    const r = rnd();
    if (r < 0.2) return reference();
    if (r < 0.3) return `\${:${pick(keys)}}`;
    if (r < 0.45) return `\n  ${pick(words)}\n  ${pick(words)}`;
    if (r < 0.5) return '';
    return pick(words);
  };
  const fileCount = 1 + Math.floor(rnd() * 4);
  const files: Record<string, string> = {};
  for (let f = fileCount - 1; f >= 0; f--) {
    const lines: string[] = [];
    const extendable = Array.from({ length: fileCount - f - 1 }, (_, i) => `f${f + 1 + i}.cfg`);
    const extendsList = extendable.filter(() => rnd() < 0.6);
    if (f === 0 || extendsList.length > 0 || rnd() < 0.5) {
      lines.push('[buildout]');
      if (extendsList.length > 0) lines.push(`extends = ${extendsList.join(' ')}`);
    }
    const withRecipe: string[] = [];
    const sectionCount = 1 + Math.floor(rnd() * 4);
    for (let s = 0; s < sectionCount; s++) {
      const name = pick(sections);
      lines.push(`[${name}]`);
      if (rnd() < 0.4) {
        lines.push('recipe = fake');
        withRecipe.push(name);
      }
      const macros = [...new Set(defined.map(([section]) => section))].filter((x) => x !== name);
      if (macros.length > 0 && rnd() < 0.25) lines.push(`<= ${pick(macros)}`);
      const optionCount = 1 + Math.floor(rnd() * 4);
      for (let o = 0; o < optionCount; o++) {
        const op = pick(['=', '=', '=', '+=', '-=']);
        const key = pick(keys);
        lines.push(`${key} ${op} ${op === '-=' ? pick(words) : value()}`);
        defined.push([name, key]);
      }
    }
    // Parts are sections given a recipe in this very file (a later file could only drop it by
    // redefining the section with recipe =, which is fine too: both engines then fail alike).
    if (f === 0) lines.push('[buildout]', `parts = ${withRecipe.filter(() => rnd() < 0.7).join(' ')}`);
    else if (withRecipe.length > 0 && rnd() < 0.3) lines.push('[buildout]', `parts += ${pick(withRecipe)}`);
    files[f === 0 ? 'buildout.cfg' : `f${f}.cfg`] = `${lines.join('\n')}\n`;
  }
  return { name: `generated #${seed}`, files };
}

type Ours =
  | { parts: string[]; sections: Record<string, Record<string, string> | { __error__: string }> }
  | { error: string };

async function resolveOurs(config: string, assignments: string[]): Promise<Ours> {
  try {
    return await resolveProfile({
      configFile: config,
      assignments: assignments.map(parseAssignment),
      recipes: { fake: fakeRecipe, 'fake:other': fakeRecipe },
    });
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

function compare(name: string, ours: Ours, oracle: OracleResult): void {
  if (oracle.error !== undefined) {
    assert.ok('error' in ours, `${name}: zc.buildout fails (${oracle.error}) but we do not`);
    return;
  }
  assert.ok(
    !('error' in ours),
    `${name}: we fail (${'error' in ours ? ours.error : ''}) but zc.buildout does not`,
  );
  assert.deepEqual(ours.parts, oracle.parts, `${name}: install order`);
  for (const [section, options] of Object.entries(oracle.sections)) {
    if (section === 'versions') continue;
    const mine: Record<string, string> | { __error__: string } | undefined = ours.sections[section];
    assert.ok(mine, `${name}: section [${section}] missing`);
    if ('__error__' in options) {
      assert.ok(
        '__error__' in mine,
        `${name}: [${section}] fails in zc.buildout (${String(options.__error__)}) but not here`,
      );
      continue;
    }
    assert.ok(
      !('__error__' in mine),
      `${name}: [${section}] fails here (${String(mine.__error__)}) but not in zc.buildout`,
    );
    assert.deepEqual(mine, options, `${name}: [${section}]`);
  }
  assert.deepEqual(
    Object.keys(ours.sections)
      .filter((s) => s !== 'versions')
      .sort(),
    Object.keys(oracle.sections)
      .filter((s) => s !== 'versions')
      .sort(),
    `${name}: section names`,
  );
}

test(
  'our engine and zc.buildout resolve the same profiles to the same values',
  { timeout: 300_000 },
  async () => {
    const cases = [...HANDWRITTEN, ...Array.from({ length: 80 }, (_, i) => generated(i + 1))];
    const dir = await tempDir('buildout-diff-');
    try {
      const oracleCases: OracleCase[] = [];
      for (const [index, c] of cases.entries()) {
        const caseDir = join(dir.path, `case${index}`);
        await dir.write(
          Object.fromEntries(
            Object.entries(c.files).map(([file, text]) => [join(`case${index}`, file), text]),
          ),
        );
        oracleCases.push({
          config: join(caseDir, 'buildout.cfg'),
          cwd: caseDir,
          assignments: (c.assignments ?? []).map((a) => {
            const { section, option, value } = parseAssignment(a);
            return [section, option, value];
          }),
        });
      }
      const oracle = await resolveWithZcBuildout(oracleCases);
      let compared = 0;
      for (const [index, c] of cases.entries()) {
        const ours = await resolveOurs(join(dir.path, `case${index}`, 'buildout.cfg'), c.assignments ?? []);
        compare(c.name, ours, oracle[index] as OracleResult);
        compared++;
      }
      assert.equal(compared, cases.length);
      const failing = oracle.filter((r) => r.error !== undefined).length;
      assert.ok(
        failing < cases.length / 3,
        `most cases resolve (${failing} of ${cases.length} fail in zc.buildout)`,
      );
    } finally {
      await dir.remove();
    }
  },
);
