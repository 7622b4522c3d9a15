/**
 * `slapos node report`: send the partitions' usage to the master (CPU time, memory, disk, and their
 * own consumption files) and destroy what the master wants destroyed (node.md §6). Exit 0 or 1.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import type { ReportPassResult } from '../../node/report/report-pass.ts';
import { commandGroup } from '../group.ts';
import {
  addPassOptions,
  PassRenderer,
  runPassCommand,
  verbosity,
  type PassCommandOptions,
} from '../node-pass.ts';

export function registerNodeReport(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('report')
    .description("report the partitions' usage to the master and destroy the destroyed instances");
  addPassOptions(command).action(async (options: PassCommandOptions, self: Command) => {
    const onProgress = options.json ? undefined : new PassRenderer(ctx, verbosity(self) > 0).handle;
    const result = await runPassCommand<ReportPassResult>(
      ctx,
      options,
      {
        name: 'node report',
        lock: 'pidfileReport',
        delegate: { request: { command: 'report' }, onEvent: onProgress },
      },
      async ({ config, master, logger }) => {
        const { connectSupervisor } = await import('../../node/node-supervisor.ts');
        const { runReportPass } = await import('../../node/report/report-pass.ts');
        const { client } = await connectSupervisor(config);
        return runReportPass(config, {
          master,
          supervisor: client,
          logger,
          ...(onProgress ? { onProgress } : {}),
        });
      },
    );
    ctx.exitCode = result.exitCode;
    if (options.json) ctx.printJson(result);
    else ctx.print(summary(result));
  });
}

function usageLine(result: ReportPassResult): string {
  const waiting = result.journals.filter((journal) => journal.outcome === 'pending').length;
  const refused = result.journals.filter((journal) => journal.outcome === 'refused').length;
  const partitions = `${result.usage.length} partition${result.usage.length === 1 ? '' : 's'}`;
  const parts = [
    result.usageXml === undefined
      ? waiting > 0
        ? 'Usage not measured: an earlier journal is still waiting to be sent.'
        : 'No usage to report.'
      : result.sent
        ? `Usage of ${partitions} sent.`
        : `Usage of ${partitions} not sent.`,
  ];
  if (result.sendError) parts.push(result.sendError.message);
  if (waiting > 0) parts.push(`${waiting} journal${waiting === 1 ? '' : 's'} kept to send again.`);
  if (refused > 0)
    parts.push(`${refused} journal${refused === 1 ? '' : 's'} refused by the master, dropped.`);
  return parts.join(' ');
}

function summary(result: ReportPassResult): string {
  const lines = [usageLine(result)];
  for (const script of result.failedScripts)
    lines.push(`  ${script.partitionId}: report script ${script.script} failed: ${script.message}`);
  for (const file of result.invalidFiles) lines.push(`  ${file.path} left in place: ${file.reason}`);
  for (const item of result.destroyed)
    lines.push(
      `${item.partitionId}: ${item.outcome}${item.error ? `: ${item.error.message.split('\n')[0] ?? ''}` : ''}`,
    );
  return lines.join('\n');
}
