/** The `npm run compat` command: arguments, the text and JSON outputs. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BUILTIN_RECIPES } from '../buildout/recipes/index.ts';
import { compatReport, type CompatReport } from './report.ts';

const USAGE = `Usage: npm run compat -- PATH_TO_SLAPOS_CHECKOUT [--json]

For every instance profile of a SlapOS checkout (software/*/instance*.cfg*, stack/**/instance*.cfg*,
without test/ and testsuite/ trees): whether this engine resolves it (rendered by its software
release, loaded, parsed) and runs its recipes natively, through the Python bridge, or not at all.
  --json   print the report as JSON
  --help   this text
`;

interface Writable {
  write(text: string): unknown;
}

const STATUS_LABEL = { native: 'native', bridge: 'bridge', blocked: 'blocked', error: 'ERROR' } as const;

/** The report as text: one block per profile, then the counts and the top blockers. */
export function formatReport(report: CompatReport): string {
  const out: string[] = [`Instance profiles of ${report.root} (${report.counts.total}):`];
  for (const profile of report.profiles) {
    const by = profile.renderedBy
      ? `  (${profile.renderedBy.stage === 'instance' ? 'instance ' : ''}${profile.renderedBy.software} [${profile.renderedBy.part}])`
      : '';
    out.push(`${STATUS_LABEL[profile.status].padEnd(8)} ${profile.profile}${by}`);
    for (const section of profile.sections) {
      if (section.runner === 'native') continue;
      out.push(
        `           ${section.runner} [${section.section}] ${section.recipe}${section.reason ? `: ${section.reason}` : ''}`,
      );
    }
    if (profile.error !== undefined) {
      for (const line of profile.error.split('\n')) out.push(`           ${line}`);
    }
  }
  if (report.softwareErrors.length > 0) {
    out.push('', 'Software profiles that could not be loaded:');
    for (const { software, error } of report.softwareErrors)
      out.push(`  ${software}: ${error.split('\n')[0]}`);
  }
  const { counts } = report;
  out.push(
    '',
    `Fully runnable (native): ${counts.native}`,
    `Needs the Python bridge: ${counts.bridge}`,
    `Blocked (a recipe the engine lacks): ${counts.blocked}`,
    `Not resolved (render/load/parse error): ${counts.error}, of which ${counts.instanceTime} instance-time Jinja2 templates`,
    `Total: ${counts.total}, of which ${counts.instanceStage} resolved by rendering an instance profile (stage two)`,
  );
  if (report.blockers.length > 0) {
    out.push('', 'Recipes blocking most profiles:');
    for (const { recipe, profiles } of report.blockers.slice(0, 20))
      out.push(`  ${String(profiles).padStart(4)}  ${recipe}`);
  }
  if (report.bridged.length > 0) {
    out.push('', 'Recipes run through the bridge:');
    for (const { recipe, profiles } of report.bridged)
      out.push(`  ${String(profiles).padStart(4)}  ${recipe}`);
  }
  return `${out.join('\n')}\n`;
}

/** Runs the command; returns the exit code. */
export async function compatMain(
  args: readonly string[],
  stdout: Writable,
  stderr: Writable,
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    stdout.write(USAGE);
    return 0;
  }
  const json = args.includes('--json');
  const paths = args.filter((arg) => arg !== '--json');
  if (paths.length !== 1 || paths[0]!.startsWith('-')) {
    stderr.write(USAGE);
    return 2;
  }
  const root = resolve(paths[0]!);
  if (!existsSync(resolve(root, 'software')) && !existsSync(resolve(root, 'stack'))) {
    stderr.write(`${root} is not a SlapOS checkout (no software/ or stack/ directory)\n`);
    return 2;
  }
  const report = await compatReport(root, {
    builtins: BUILTIN_RECIPES,
    onProgress: json ? undefined : (software) => stderr.write(`rendering ${software}\n`),
  });
  stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return 0;
}
