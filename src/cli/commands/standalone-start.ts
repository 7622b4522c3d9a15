/** `slapos standalone start`: master + supervisor + node agent in one directory, in the background. */
import type { Command } from 'commander';
import type { StandaloneStep } from '../../standalone/standalone.ts';
import type { CliContext } from '../context.ts';
import {
  partitionCount,
  standaloneCommand,
  standaloneDir,
  type StandaloneCommandOptions,
} from '../standalone-options.ts';

interface StartOptions extends StandaloneCommandOptions {
  partitions?: number;
}

export function describeStep(step: StandaloneStep): string {
  switch (step.step) {
    case 'root':
      return (
        `Warning: running as root: the standalone's services (the master, the node agent and every ` +
        `partition's processes) will run as root; start it as an unprivileged user instead`
      );
    case 'config':
      return step.created
        ? `Created ${step.path}`
        : step.tokenAdded
          ? `Using ${step.path} (the master's access token was added to it)`
          : `Using ${step.path}`;
    case 'master':
      return `Master ${step.alreadyRunning ? 'already running' : 'started'} at ${step.url} (pid ${step.pid})`;
    case 'cache':
      return `Binary cache server ${step.alreadyRunning ? 'already running' : 'started'} at ${step.url} (pid ${step.pid})`;
    case 'supervisor':
      return `Supervisor ${step.alreadyRunning ? 'already running' : 'started'} (pid ${step.pid})`;
    case 'format':
      return `Compute node formatted: ${step.partitions} partitions`;
    case 'agent':
      return `Node agent ${step.alreadyRunning ? 'already running' : 'started'} (pid ${step.pid})`;
  }
}

export function registerStandaloneStart(program: Command, ctx: CliContext): void {
  standaloneCommand(
    program,
    'start',
    'start the master, the supervisor and the node agent in the background (sandbox mode); returns once they are up',
  )
    .option('--partitions <n>', 'number of partitions (default 10; can only grow)', partitionCount)
    .option('--json', 'print the master URL, the compute node and the pids as JSON')
    .action(async (options: StartOptions) => {
      const { startStandalone } = await import('../../standalone/standalone.ts');
      const info = await startStandalone(standaloneDir(ctx, options), {
        ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
        logger: ctx.logger(),
        // With --json only the warnings are told (on stderr).
        onStep: (step) => {
          if (!options.json || step.step === 'root') ctx.note(describeStep(step));
        },
      });
      if (options.json) {
        ctx.printJson({
          dir: info.dir,
          config: info.config,
          client_config: info.config,
          token_file: info.tokenFile,
          master_url: info.masterUrl,
          panel_url: `${info.masterUrl}/panel/`,
          computer_guid: info.computerGuid,
          partitions: info.partitions,
          already_running: info.alreadyRunning,
          cache_url: info.cacheUrl ?? null,
          pids: { ...info.pids, cache: info.pids.cache ?? null },
        });
        return;
      }
      ctx.print(
        info.alreadyRunning
          ? `The standalone SlapOS in ${info.dir} is already running.`
          : `The standalone SlapOS in ${info.dir} is running.`,
      );
      ctx.print(`  master URL:   ${info.masterUrl}`);
      ctx.print(`  compute node: ${info.computerGuid} (${info.partitions} partitions)`);
      if (info.cacheUrl !== undefined) ctx.print(`  binary cache: ${info.cacheUrl}  (shacache and shadir)`);
      ctx.print(`  client commands: --cfg ${info.config}  (it holds the master's access token)`);
      ctx.print(`  web panel:    ${info.masterUrl}/panel/  (sign in with the token in ${info.tokenFile})`);
    });
}
