/** What the `slapos standalone …` commands share: `--dir` and its resolution. */
import { InvalidArgumentError, type Command } from 'commander';
import { resolveStandaloneDir } from '../standalone/layout.ts';
import type { CliContext } from './context.ts';
import { commandGroup } from './group.ts';

export interface StandaloneCommandOptions {
  dir?: string;
  json?: boolean;
}

export function standaloneCommand(program: Command, name: string, description: string): Command {
  return commandGroup(program, 'standalone')
    .command(name)
    .description(description)
    .option('--dir <dir>', 'its directory (default: $SLAPOS_STANDALONE_DIR, else ./.slapos)');
}

export function standaloneDir(ctx: CliContext, options: StandaloneCommandOptions): string {
  return resolveStandaloneDir(options.dir, { env: ctx.env, cwd: ctx.cwd });
}

export function partitionCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000)
    throw new InvalidArgumentError(
      `expected a number of partitions between 1 and 1000, got ${JSON.stringify(value)}`,
    );
  return Number(value);
}
