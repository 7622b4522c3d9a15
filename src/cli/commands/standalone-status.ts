/** `slapos standalone status`: what runs, the master's URL, the compute node, the work in progress. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { standaloneCommand, standaloneDir, type StandaloneCommandOptions } from '../standalone-options.ts';

export function registerStandaloneStatus(program: Command, ctx: CliContext): void {
  standaloneCommand(program, 'status', 'say whether the standalone SlapOS runs, its master URL and its work')
    .option('--json', 'print the status as JSON (master_url, computer_guid, pids, states)')
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
        `  master URL:   ${status.master_url}`,
        `  compute node: ${status.computer_guid} (${status.partitions} partitions)`,
        `  master:       ${state(status.master.running, status.master.pid)}`,
        `  supervisor:   ${state(status.supervisor.running, status.supervisor.pid)}, ${status.supervisor.processes} processes`,
        `  node agent:   ${state(status.agent.running, status.agent.pid)}${status.agent.state ? `, ${status.agent.state}` : ''}`,
      ];
      for (const software of status.agent.software)
        lines.push(
          `  software ${software.phase.padEnd(10)} ${software.url}${software.error ? ` — ${software.error.message}` : ''}`,
        );
      for (const partition of status.agent.partitions)
        lines.push(
          `  ${partition.partitionId.padEnd(12)} ${partition.requestedState.padEnd(9)} ${partition.phase}${partition.error ? ` — ${partition.error.message.split('\n')[0] ?? ''}` : ''}`,
        );
      for (const change of status.agent.local_changes) lines.push(`  developing: ${change.message}`);
      ctx.print(lines.join('\n'));
      if (!status.running) ctx.exitCode = 3;
    });
}
