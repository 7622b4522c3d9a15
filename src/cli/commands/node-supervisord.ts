/**
 * `slapos node supervisord [-n]`: start the node's supervisor daemon — in the background (returns
 * once it answers on its socket; nothing to do if one already runs), or in the foreground with -n.
 * The daemon's processes outlive it: stopping it (SIGTERM) leaves them running and the next daemon
 * re-attaches to them; `slapos node supervisorctl shutdown` stops them too.
 */
import type { Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addLocationOptions, resolveSupervisorPaths, type LocationOptions } from '../supervisorctl.ts';

interface SupervisordOptions extends LocationOptions {
  nodaemon?: boolean;
  notifyCommand?: string;
  json?: boolean;
}

export function registerNodeSupervisord(program: Command, ctx: CliContext): void {
  const node = commandGroup(program, 'node');
  addLocationOptions(node.command('supervisord'))
    .description("start the node's process supervisor (in the background unless -n)")
    .option('-n, --nodaemon', 'run in the foreground (SIGTERM stops it and leaves the processes running)')
    .option(
      '--notify-command <path>',
      'run this executable on each unexpected exit (the event as JSON on its stdin); default with a slapos.cfg: the watchdog, which bangs the instance',
    )
    .option('--json', 'print {pid, socket, alreadyRunning} as JSON')
    .action(async (options: SupervisordOptions) => {
      const paths = resolveSupervisorPaths(options, ctx);
      if (!('stateDir' in paths))
        throw new SlapError('SLAP_ERR_USAGE', 'the supervisor needs an instance root', {
          hint: 'give --instance-root or --cfg (with [slapos] instance_root)',
        });
      const { writeWatchdogCommand } = await import('../../node/node-supervisor.ts');
      const cfg = options.cfg ?? (ctx.env.SLAPOS_CONFIGURATION || undefined);
      if (
        options.notifyCommand === undefined &&
        cfg !== undefined &&
        options.instanceRoot === undefined &&
        options.socket === undefined
      )
        options.notifyCommand = await writeWatchdogCommand({
          configFile: resolve(ctx.cwd, cfg),
          instanceRoot: dirname(paths.socket),
        });
      if (options.nodaemon) {
        const logger = ctx.logger('daemon');
        const { runSupervisorDaemon } = await import('../../node/supervisor/daemon.ts');
        const { commandNotifier } = await import('../../node/supervisor/notifiers.ts');
        ctx.exitCode = await runSupervisorDaemon({
          socketPath: paths.socket,
          stateDir: paths.stateDir,
          pidFile: paths.pidFile,
          logger,
          ...(options.notifyCommand
            ? { onUnexpectedExit: commandNotifier({ command: options.notifyCommand, logger }) }
            : {}),
        });
        return;
      }
      const { launchSupervisorDaemon } = await import('../../node/supervisor/launch.ts');
      const result = await launchSupervisorDaemon({
        ...paths,
        ...(options.notifyCommand ? { notifyCommand: options.notifyCommand } : {}),
      });
      if (options.json) ctx.printJson({ ...result, socket: paths.socket });
      else
        ctx.print(
          `supervisor ${result.alreadyRunning ? 'already running' : 'started'} (pid ${result.pid}, socket ${paths.socket})`,
        );
    });
}
