/**
 * `slapos node promise`: run the promises of the started partitions now and report (exit 2 on
 * failure). As the original, it holds the instance pass's lock (pidfile_instance) meanwhile and
 * skips stopped, destroyed and free partitions, whose services are not meant to answer.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { EXIT } from '../../core/errors.ts';
import type { NodeConfig } from '../../node/config.ts';
import { readPartitionRecord } from '../../node/instance/partition-files.ts';
import { localPartitionIds, selectPartitionIds, splitList } from '../../node/partitions.ts';
import { acquirePidLock } from '../../lib/pid-lock.ts';
import type { PromiseReport } from '../../node/promise/run-promises.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addNodeOptions, loadCliNodeConfig, type NodeCommandOptions } from '../node-options.ts';
import { addPartitionOptions } from '../node-pass.ts';

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
    const partitions = await selectPartitions(config, options.onlyCp ?? options.only);
    const { runPromises } = await import('../../node/promise/run-promises.ts');
    const reports: { partition: string; report: PromiseReport }[] = [];
    const lock = await acquirePidLock(config.pidfileInstance, { what: 'node promise' });
    try {
      for (const partition of partitions) {
        const path = join(config.instanceRoot, partition);
        if ((await readPartitionRecord(path))?.requestedState !== 'started') continue;
        const report = await runPromises(path, {
          mode: 'test',
          force: true,
          timeout: config.promiseTimeout,
          logger: ctx.logger(),
        });
        reports.push({ partition, report });
      }
    } finally {
      await lock.release();
    }
    const ok = reports.every((r) => r.report.ok);
    if (!ok) ctx.exitCode = EXIT.promiseFailure;
    if (options.json) {
      ctx.printJson({
        ok,
        partitions: reports.map(({ partition, report }) => ({
          partition,
          ok: report.ok,
          results: report.results,
        })),
      });
      return;
    }
    for (const { partition, report } of reports)
      for (const result of report.results)
        ctx.print(`${partition}: ${result.title} [${result.failed ? 'FAILED' : 'OK'}] ${result.message}`);
    const checked = reports.reduce((n, r) => n + r.report.results.length, 0);
    const failed = reports.reduce((n, r) => n + r.report.failures.length, 0);
    ctx.print(
      checked === 0
        ? 'No promise to check.'
        : `${checked} promise${checked === 1 ? '' : 's'} checked, ${failed} failed.`,
    );
  });
}

/** The formatted partitions, filtered by --only-cp. */
async function selectPartitions(config: NodeConfig, onlyCp: string | undefined): Promise<string[]> {
  return selectPartitionIds(await localPartitionIds(config.instanceRoot), splitList(onlyCp));
}
