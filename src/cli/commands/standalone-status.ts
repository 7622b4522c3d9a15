/** `slapos standalone status`: what runs, the master's URL, the compute node, the work in progress. */
import type { Command } from 'commander';
import type { StandaloneStatus } from '../../standalone/standalone.ts';
import type { CliContext } from '../context.ts';
import { standaloneCommand, standaloneDir, type StandaloneCommandOptions } from '../standalone-options.ts';
import { renderTable } from '../text-block.ts';

export function registerStandaloneStatus(program: Command, ctx: CliContext): void {
  standaloneCommand(program, 'status', 'say whether the standalone SlapOS runs, its master URL and its work')
    .option(
      '--json',
      'print the status as JSON (master_url, client_config, token_file, computer_guid, pids, states)',
    )
    .action(async (options: StandaloneCommandOptions) => {
      const { standaloneStatus } = await import('../../standalone/standalone.ts');
      const status = await standaloneStatus(standaloneDir(ctx, options));
      if (options.json) {
        ctx.printJson(status);
        return;
      }
      if (!status.exists) {
        ctx.print(`No standalone SlapOS in ${status.dir} (slapos standalone start creates one).`);
        ctx.exitCode = 3;
        return;
      }
      const state = (running: boolean, pid: number | null): string =>
        running ? `running (pid ${pid})` : 'stopped';
      const lines = [
        `Standalone SlapOS in ${status.dir}: ${status.running ? 'running' : 'not running'}`,
        `  master URL:   ${status.master_url}  (client commands: --cfg ${status.client_config})`,
        `  compute node: ${status.computer_guid} (${status.partitions} partitions)`,
        ...(status.master_url === null
          ? []
          : [
              `  web panel:    ${status.master_url}/panel/  (sign in with the token in ${status.token_file})`,
            ]),
        `  master:       ${state(status.master.running, status.master.pid)}`,
        ...(status.cache.url === null
          ? []
          : [`  binary cache: ${state(status.cache.running, status.cache.pid)} at ${status.cache.url}`]),
        `  supervisor:   ${state(status.supervisor.running, status.supervisor.pid)}, ${status.supervisor.processes} processes`,
        `  node agent:   ${state(status.agent.running, status.agent.pid)}${status.agent.state ? `, ${status.agent.state}` : ''}`,
      ];
      lines.push(...workLines(status));
      ctx.print(lines.join('\n'));
      if (!status.running) ctx.exitCode = 3;
    });
}

/**
 * The agent's work: its software releases, then its instances, as tables with their whole errors,
 * then the progress of local software releases rebuilt after an edit.
 */
export function workLines(status: Pick<StandaloneStatus, 'agent'>): string[] {
  const lines: string[] = [];
  const { software, partitions } = status.agent;
  if (software.length > 0)
    lines.push(
      'Software releases:',
      ...renderTable(
        ['PHASE', 'SOFTWARE RELEASE'],
        software.map((item) => [
          item.phase,
          item.error ? `${item.url}\nerror: ${item.error.message}` : item.url,
        ]),
        { indent: '  ' },
      ),
    );
  if (partitions.length > 0)
    lines.push(
      'Instances:',
      ...renderTable(
        ['PARTITION', 'TITLE', 'STATE', 'PHASE', 'ERROR'],
        partitions.map((item) => [
          item.partitionId,
          item.title,
          item.requestedState,
          item.phase,
          item.error?.message ?? '',
        ]),
        { indent: '  ' },
      ),
    );
  for (const change of status.agent.local_changes) lines.push(`  developing: ${change.message}`);
  return lines;
}
