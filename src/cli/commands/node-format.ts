/** `slapos node format`: create the partitions, their users and addresses; tell the master. */
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../../core/errors.ts';
import type { FormatResult } from '../../node/format/format.ts';
import { describeAction } from '../../node/format/plan.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import {
  addNodeOptions,
  booleanArgument,
  loadCliNodeConfig,
  type NodeCommandOptions,
} from '../node-options.ts';

interface FormatCommandOptions extends NodeCommandOptions {
  now?: boolean;
  dry_run?: boolean;
  alter_user?: boolean;
  alter_network?: boolean;
}

/** Without --now, format first waits up to an hour, as the original (spreads cron runs). */
const MAX_RANDOM_DELAY_MS = 3600_000;

export function registerNodeFormat(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('format')
    .description('create the partitions (directories, users, addresses) and register them on the master')
    .option('--now', 'start at once (without it, wait a random delay of up to one hour, as cron runs do)')
    .option('-n, --dry_run', 'show what would change; change nothing, send nothing')
    .option('--alter_user <True|False>', 'create and update partition users (system mode)', booleanArgument)
    .option('--alter_network <True|False>', 'add partition addresses (system mode)', booleanArgument);
  addNodeOptions(command).action(async (options: FormatCommandOptions) => {
    const config = await loadCliNodeConfig(ctx, options, {
      alter_user: options.alter_user,
      alter_network: options.alter_network,
    });
    const logger = ctx.logger();
    if (!options.now && !options.dry_run) {
      const delay = Math.floor(Math.random() * MAX_RANDOM_DELAY_MS);
      ctx.note(`Waiting ${Math.round(delay / 1000)} s before formatting (use --now to start at once).`);
      await sleep(delay);
    }
    const { formatComputeNode } = await import('../../node/format/format.ts');
    const { createNodeMasterClient, masterRegistrar } = await import('../../node/master.ts');
    const client = await createNodeMasterClient(config, { logger });
    let result: FormatResult;
    try {
      result = await formatComputeNode(config, {
        registrar: masterRegistrar(client),
        dryRun: options.dry_run ?? false,
        logger,
        ...(options.json ? {} : { onApplied: (action) => ctx.note(describeAction(action)) }),
      });
    } finally {
      await client.close();
    }
    if (result.postError !== undefined) ctx.exitCode = EXIT.formatNotSent;
    if (options.json) {
      ctx.printJson(jsonOf(result));
      return;
    }
    if (result.dryRun) {
      ctx.print(result.actions.length === 0 ? 'Nothing to change.' : 'Would change:');
      for (const action of result.actions) ctx.print(`  ${describeAction(action)}`);
    } else if (result.actions.length === 0) ctx.print('Nothing to change.');
    ctx.print(
      `Compute node ${config.computerId} (${result.mode} mode), ${result.layout.partitions.length} partitions:`,
    );
    for (const partition of result.layout.partitions)
      ctx.print(`  ${partition.reference}  ${partition.addresses.map((a) => a.addr).join(' ')}`);
    if (result.postError !== undefined)
      ctx.note(
        `The compute node is formatted, but the master at ${config.masterUrl} was not told: ${result.postError}`,
      );
    else if (!result.dryRun) ctx.print(`Registered on ${config.masterUrl}`);
  });
}

function jsonOf(result: FormatResult): unknown {
  return {
    mode: result.mode,
    dry_run: result.dryRun,
    state_file: result.statePath,
    changes: result.actions.map((action) => ({
      ...(action.kind === 'resource-file' ? { kind: action.kind, path: action.path } : action),
      description: describeAction(action),
    })),
    partitions: result.layout.partitions.map((p) => ({
      reference: p.reference,
      path: p.path,
      user: p.user.name,
      addresses: p.addresses,
      ipv6_range: p.ipv6Range ?? null,
    })),
    payload: result.payload,
    sent: result.posted,
    error: result.postError ?? null,
  };
}
