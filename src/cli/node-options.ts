/** What every `slapos node …` command shares: `--cfg`, `--json` and reading slapos.cfg. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  DEFAULT_CONFIG_PATH,
  loadNodeConfig,
  type ConfigOverrides,
  type NodeConfig,
} from '../node/config.ts';
import type { CliContext } from './context.ts';

export interface NodeCommandOptions {
  cfg?: string;
  json?: boolean;
}

export function addNodeOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--cfg <path>',
        `node configuration file (default: $SLAPOS_CONFIGURATION or ${DEFAULT_CONFIG_PATH})`,
      ),
    )
    .option('--json', 'print machine-readable JSON');
}

/** slapos.cfg of this command, CLI values overriding the file's (undefined = not given). */
export function loadCliNodeConfig(
  ctx: CliContext,
  options: NodeCommandOptions,
  overrides: ConfigOverrides = {},
): Promise<NodeConfig> {
  return loadNodeConfig({ cfg: options.cfg, env: ctx.env, cwd: ctx.cwd, overrides });
}

/** `True`/`False` (any case) as the original's `--alter_user True`. */
export function booleanArgument(value: string): boolean {
  const word = value.trim().toLowerCase();
  if (word === 'true') return true;
  if (word === 'false') return false;
  throw new InvalidArgumentError(`expected True or False, got ${JSON.stringify(value)}`);
}
