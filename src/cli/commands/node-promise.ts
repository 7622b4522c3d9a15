/**
 * `slapos node promise`: run the promises of the started partitions now and report (exit 2 on
 * failure). As the original, it holds the instance pass's lock (pidfile_instance) meanwhile and
 * skips stopped, destroyed and free partitions, whose services are not meant to answer. When a
 * node agent holds that lock, the agent runs them (control channel, docs/node-agent.md).
 */
import type { Command } from 'commander';
import type { NodeConfig } from '../../node/config.ts';
import { splitList } from '../../node/partitions.ts';
import type { PromiseCheckResult } from '../../node/promise/check-partitions.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addNodeOptions, loadCliNodeConfig, type NodeCommandOptions } from '../node-options.ts';
import { addPartitionOptions, lockOrAskAgent } from '../node-pass.ts';

interface PromiseCommandOptions extends NodeCommandOptions {
  onlyCp?: string;
  only?: string;
  promiseTimeout?: number;
}

export function registerNodePromise(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('promise')
    .description("run the partitions' promises now (exit 0: all pass, 2: one failed)");
  addNodeOptions(addPartitionOptions(command)).action(async (options: PromiseCommandOptions) => {
    const config = await loadCliNodeConfig(ctx, options, { promise_timeout: options.promiseTimeout });
    const only = splitList(options.onlyCp ?? options.only);
    const { checkPartitionPromises, selectLocalPartitions } =
      await import('../../node/promise/check-partitions.ts');
    // An unknown partition is a usage error whoever runs the promises.
    await selectLocalPartitions(config, only);
    const result = await underInstanceLock(ctx, config, options, only, () =>
      checkPartitionPromises(config, { only, logger: ctx.logger() }),
    );
    ctx.exitCode = result.exitCode;
    if (options.json) {
      ctx.printJson({ ok: result.ok, partitions: result.partitions });
      return;
    }
    for (const { partition, results } of result.partitions)
      for (const outcome of results)
        ctx.print(`${partition}: ${outcome.title} [${outcome.failed ? 'FAILED' : 'OK'}] ${outcome.message}`);
    const checked = result.partitions.reduce((n, p) => n + p.results.length, 0);
    const failed = result.partitions.reduce((n, p) => n + p.results.filter((r) => r.failed).length, 0);
    ctx.print(
      checked === 0
        ? 'No promise to check.'
        : `${checked} promise${checked === 1 ? '' : 's'} checked, ${failed} failed.`,
    );
  });
}

/**
 * Runs `check` holding pidfile_instance; when a node agent holds it, asks the agent instead (the
 * lock error stands when no agent answers: a one-shot `node instance` runs).
 */
async function underInstanceLock(
  ctx: CliContext,
  config: NodeConfig,
  options: PromiseCommandOptions,
  only: string[] | undefined,
  check: () => Promise<PromiseCheckResult>,
): Promise<PromiseCheckResult> {
  const request = {
    command: 'promise' as const,
    ...(only === undefined ? {} : { only }),
    ...(options.promiseTimeout === undefined ? {} : { timeout: options.promiseTimeout }),
  };
  const taken = await lockOrAskAgent(ctx, config, config.pidfileInstance, 'node promise', { request });
  if ('answer' in taken) return taken.answer as PromiseCheckResult;
  try {
    return await check();
  } finally {
    await taken.lock.release();
  }
}
