/**
 * Profile engine benchmark: `npx tsx bench/buildout.ts [--runs 20]` (or `npm run bench -- buildout`).
 *
 * 1. Parse and resolve a 300-section profile spread over 5 levels of `extends` (references between
 *    sections, `+=`, `<=` macros): load + initialise + substitute every option of every section.
 *    Goal: under 50 ms.
 * 2. Re-run an installed profile of 50 parts (slapos.recipe.template, slapos.recipe.build:download,
 *    plone.recipe.command) where nothing changed. Goal: under 150 ms and zero processes spawned.
 *
 * Prints the first (cold) run and the median / p95 of the following ones.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadProfile, runBuildout } from '../src/buildout/index.ts';
import type { ExecFunction } from '../src/buildout/recipe.ts';
import { execFile } from '../src/lib/exec.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' } },
  allowPositionals: true,
});
const runs = Math.max(1, Number(values.runs));

const ms = (value: number): string => `${value.toFixed(1)} ms`;
const median = (samples: number[]): number =>
  [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? NaN;
function summary(samples: number[], cpu: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length - 1, Math.floor(0.95 * sorted.length))] ?? NaN;
  return `median ${ms(median(samples))}, p95 ${ms(p95)}, median CPU ${ms(median(cpu))} (${samples.length} runs)`;
}

/** Runs `action`, returning [wall ms, CPU ms (user + system) of this process]. */
async function measure(action: () => Promise<unknown>): Promise<[number, number]> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await action();
  const used = process.cpuUsage(cpu);
  return [performance.now() - started, (used.user + used.system) / 1000];
}

/** Writes level0.cfg … level4.cfg (level N extends level N+1), 60 sections each. */
async function writeLargeProfile(dir: string): Promise<string> {
  const levels = 5;
  const perLevel = 60;
  for (let level = levels - 1; level >= 0; level--) {
    const lines: string[] = ['[buildout]'];
    if (level < levels - 1) lines.push(`extends = level${level + 1}.cfg`);
    if (level === 0) lines.push('parts =');
    for (let i = 0; i < perLevel; i++) {
      const n = level * perLevel + i;
      lines.push(`[s${n}]`);
      if (n % 10 === 5 && n > 5) lines.push(`<= s${n - 5}`);
      lines.push(`name = section ${n}`, `path = \${buildout:directory}/data/s${n}`, `port = ${10000 + n}`);
      if (n > 0)
        lines.push(`previous = \${s${n - 1}:name}`, `url = http://[::1]:\${s${n - 1}:port}/\${:name}`);
      lines.push('list =', '  one', '  two', '  three');
      lines.push(`title = \${:_buildout_section_name_} of level ${level}`, 'escaped = $${not:substituted}');
    }
    // Every level also appends to sections defined deeper, as real stacks do.
    if (level < levels - 1) {
      for (let i = 0; i < 10; i++)
        lines.push(`[s${(level + 1) * perLevel + i}]`, `list += level${level}`, 'list -= two');
    }
    await writeFile(join(dir, `level${level}.cfg`), `${lines.join('\n')}\n`);
  }
  return join(dir, 'level0.cfg');
}

async function resolveLarge(configFile: string): Promise<number> {
  const profile = await loadProfile({ configFile });
  let options = 0;
  for (const name of profile.buildout.sectionNames()) {
    const section = await profile.section(name);
    await profile.buildout.resolveAll(section);
    options += section.keys().length;
  }
  return options;
}

/** 50 parts: 30 templates, 15 local downloads, 5 commands, all depending on a shared data section. */
async function writeInstalledProfile(dir: string): Promise<string> {
  const parts: string[] = [];
  const lines = ['[directory]', 'etc = ${buildout:directory}/etc', 'var = ${buildout:directory}/var', ''];
  await writeFile(join(dir, 'source.txt'), 'some content to download\n');
  for (let i = 0; i < 30; i++) {
    parts.push(`template-${i}`);
    lines.push(
      `[template-${i}]`,
      'recipe = slapos.recipe.template',
      'inline =',
      '  #!/bin/sh',
      `  exec \${directory:var}/service-${i} --port ${20000 + i} "$$@"`,
      `output = \${directory:etc}/run-${i}`,
      'mode = 700',
    );
  }
  for (let i = 0; i < 15; i++) {
    parts.push(`download-${i}`);
    lines.push(
      `[download-${i}]`,
      'recipe = slapos.recipe.build:download',
      `url = \${buildout:directory}/source.txt`,
      `filename = file-${i}.txt`,
    );
  }
  for (let i = 0; i < 5; i++) {
    parts.push(`command-${i}`);
    lines.push(
      `[command-${i}]`,
      'recipe = plone.recipe.command',
      `command = mkdir -p \${directory:var}/c${i}`,
      `location = \${directory:var}/c${i}`,
      'stop-on-error = true',
    );
  }
  const configFile = join(dir, 'buildout.cfg');
  await writeFile(configFile, `[buildout]\nparts =\n  ${parts.join('\n  ')}\n\n${lines.join('\n')}\n`);
  return configFile;
}

const root = await mkdtemp(join(tmpdir(), 'buildout-bench-'));
try {
  const rows: [string, string][] = [];

  const large = await writeLargeProfile(root);
  let optionCount = 0;
  const [coldWall] = await measure(async () => (optionCount = await resolveLarge(large)));
  rows.push([`resolve 300 sections / 5 extends levels (${optionCount} options), cold`, ms(coldWall)]);
  const resolveWall: number[] = [];
  const resolveCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [wall, cpu] = await measure(() => resolveLarge(large));
    resolveWall.push(wall);
    resolveCpu.push(cpu);
  }
  rows.push(['resolve 300 sections / 5 extends levels, warm', summary(resolveWall, resolveCpu)]);

  const installDir = await mkdtemp(join(root, 'installed-'));
  const configFile = await writeInstalledProfile(installDir);
  let spawned = 0;
  const exec: ExecFunction = (file, args, options) => {
    spawned++;
    return execFile(file, args, options);
  };
  let installed = 0;
  const [installWall] = await measure(
    async () => (installed = (await runBuildout({ configFile, exec })).installed.length),
  );
  rows.push([`first install of 50 parts (${installed} installed, ${spawned} processes)`, ms(installWall)]);
  spawned = 0;
  const rerunWall: number[] = [];
  const rerunCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [wall, cpu] = await measure(async () => {
      const result = await runBuildout({ configFile, exec });
      if (result.updated.length !== 50 || result.installed.length !== 0)
        throw new Error('the re-run was not a no-op');
    });
    rerunWall.push(wall);
    rerunCpu.push(cpu);
  }
  rows.push(['re-run of 50 installed parts, nothing changed', summary(rerunWall, rerunCpu)]);
  rows.push(['processes spawned by the re-runs', String(spawned)]);

  const width = Math.max(...rows.map(([label]) => label.length));
  process.stdout.write('Profile engine (src/buildout)\n');
  for (const [label, value] of rows) process.stdout.write(`  ${label.padEnd(width)}  ${value}\n`);
} finally {
  await rm(root, { recursive: true, force: true });
}
