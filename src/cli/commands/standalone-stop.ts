/** `slapos standalone stop`: the agent, the supervisor with every service, then the master and the binary cache server. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { standaloneCommand, standaloneDir, type StandaloneCommandOptions } from '../standalone-options.ts';

export function registerStandaloneStop(program: Command, ctx: CliContext): void {
  standaloneCommand(
    program,
    'stop',
    'stop the node agent, the services and their supervisor, the master and the binary cache server',
  )
    .option('--json', 'print what was running as JSON')
    .action(async (options: StandaloneCommandOptions) => {
      const dir = standaloneDir(ctx, options);
      const { stopStandalone } = await import('../../standalone/standalone.ts');
      const stopped = await stopStandalone(dir);
      if (options.json) {
        ctx.printJson({ dir, stopped });
        return;
      }
      const names = (['agent', 'supervisor', 'master', 'cache'] as const).filter((name) => stopped[name]);
      ctx.print(
        names.length === 0
          ? `The standalone SlapOS in ${dir} was not running.`
          : `Stopped the standalone SlapOS in ${dir} (${names.join(', ')}).`,
      );
    });
}
