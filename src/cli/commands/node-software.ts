/**
 * `slapos node software`: install the software releases the master lists for this compute node,
 * remove the destroyed ones, report each (node.md §3). Exit 0, or 1 when one failed.
 */
import { Option, type Command } from 'commander';
import { splitList } from '../../node/partitions.ts';
import type { SoftwarePassResult } from '../../node/software/software-pass.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import {
  addPassOptions,
  PassRenderer,
  runPassCommand,
  verbosity,
  type PassCommandOptions,
} from '../node-pass.ts';

interface SoftwareCommandOptions extends PassCommandOptions {
  force?: boolean;
  all?: boolean;
  onlySr?: string;
  only?: string;
}

export function registerNodeSoftware(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('software')
    .description('install the software releases supplied to this compute node, remove the destroyed ones')
    .option('--force', 'build again even what is installed (buildout then looks for newer profiles)')
    .addOption(new Option('--all', 'same as --force (deprecated)').hideHelp())
    .option('--only-sr <urls>', 'only these software releases (URLs or md5 digests, comma-separated)')
    .addOption(new Option('--only <urls>', 'same as --only-sr').hideHelp());
  addPassOptions(command).action(async (options: SoftwareCommandOptions, self: Command) => {
    const only = splitList(options.onlySr ?? options.only);
    const force = options.force === true || options.all === true;
    const onProgress = options.json ? undefined : new PassRenderer(ctx, verbosity(self) > 0).handle;
    const result = await runPassCommand<SoftwarePassResult>(
      ctx,
      options,
      {
        name: 'node software',
        lock: 'pidfileSoftware',
        delegate: { request: { command: 'software', force, ...(only ? { only } : {}) }, onEvent: onProgress },
      },
      async ({ config, master, logger }) => {
        const { runSoftwarePass } = await import('../../node/software/software-pass.ts');
        return runSoftwarePass(config, {
          master,
          logger,
          force,
          ...(only === undefined ? {} : { onlySoftware: only }),
          ...(onProgress ? { onProgress } : {}),
        });
      },
    );
    ctx.exitCode = result.exitCode;
    if (options.json) ctx.printJson(result);
    else ctx.print(summary(result));
  });
}

function summary(result: SoftwarePassResult): string {
  if (result.items.length === 0) return 'No software release to install on this compute node.';
  const count = (outcome: string): number => result.items.filter((item) => item.outcome === outcome).length;
  const kept = count('kept');
  const lines = [
    `${result.items.length} software release${result.items.length === 1 ? '' : 's'}: ${count('installed')} installed, ${count('up-to-date')} already installed, ${count('destroyed')} removed, ${kept > 0 ? `${kept} kept (still used), ` : ''}${count('failed')} failed (${(result.durationMs / 1000).toFixed(1)} s).`,
  ];
  for (const item of result.items)
    if (item.error) lines.push(`  ${item.url}: ${item.error.message.split('\n')[0] ?? ''}`);
  return lines.join('\n');
}
