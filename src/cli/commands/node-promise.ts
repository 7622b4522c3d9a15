/** `slapos node promise`: run the promises of the partitions now and report (exit 2 on failure). */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, SlapError } from '../../core/errors.ts';
import type { NodeConfig } from '../../node/config.ts';
import { loadFormatState, stateFilePath } from '../../node/format/state.ts';
import { runPromises, type PromiseReport } from '../../node/promise/run-promises.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addNodeOptions, loadCliNodeConfig, type NodeCommandOptions } from '../node-options.ts';

interface PromiseCommandOptions extends NodeCommandOptions {
  onlyCp?: string;
  only?: string;
  promiseTimeout?: number;
}

export function registerNodePromise(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node', 'run the node: format, software, instance, promises, …')
    .command('promise')
    .description("run the partitions' promises now (exit 0: all pass, 2: one failed)")
    .option('--only-cp <ids>', 'only these partitions (comma-separated ids)')
    .addOption(new Option('--only <ids>', 'same as --only-cp').hideHelp())
    .option(
      '--promise-timeout <seconds>',
      'seconds allowed to each promise (default: promise_timeout, 20)',
      positiveInteger,
    );
  addNodeOptions(command).action(async (options: PromiseCommandOptions) => {
    const config = await loadCliNodeConfig(ctx, options, { promise_timeout: options.promiseTimeout });
    const partitions = await selectPartitions(config, options.onlyCp ?? options.only);
    const reports: { partition: string; report: PromiseReport }[] = [];
    for (const partition of partitions) {
      const report = await runPromises(join(config.instanceRoot, partition), {
        mode: 'test',
        force: true,
        timeout: config.promiseTimeout,
        logger: ctx.logger(),
      });
      reports.push({ partition, report });
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

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The formatted partitions (format state, else partition directories), filtered by --only-cp. */
async function selectPartitions(config: NodeConfig, onlyCp: string | undefined): Promise<string[]> {
  const state = await loadFormatState(stateFilePath(config.instanceRoot));
  const all = state
    ? state.partitions.map((p) => p.reference)
    : await partitionDirectories(config.instanceRoot);
  if (onlyCp === undefined) return all;
  const wanted = onlyCp
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const unknown = wanted.filter((id) => !all.includes(id));
  if (unknown.length > 0)
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `unknown partition${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      {
        hint:
          all.length === 0
            ? 'no partition is formatted yet: run slapos node format'
            : `partitions: ${all.join(', ')}`,
      },
    );
  return all.filter((id) => wanted.includes(id));
}

async function partitionDirectories(instanceRoot: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(instanceRoot);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    try {
      if ((await stat(join(instanceRoot, name, '.slapos-resource'))).isFile()) out.push(name);
    } catch {
      // not a partition
    }
  }
  return out;
}
