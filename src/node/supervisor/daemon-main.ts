/**
 * Entry point of the detached supervisor daemon (started by `launchSupervisorDaemon`, i.e.
 * `slapos node supervisord` without -n). Kept apart from the CLI so the long-lived process loads
 * only what it needs (its idle memory is measured by bench/supervisor.ts). Logs JSON lines to
 * stderr, which the launcher points at `var/log/supervisord.log`.
 */
import { parseArgs } from 'node:util';
import { toSlapError } from '../../core/errors.ts';
import { runSupervisorDaemon } from './daemon.ts';
import { createJsonLineLogger, type JsonLogLevel } from './logger.ts';
import { commandNotifier } from './notifiers.ts';

const LOG_MAX_BYTES = 10 * 1024 * 1024;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      socket: { type: 'string' },
      'state-dir': { type: 'string' },
      'pid-file': { type: 'string' },
      'log-file': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'notify-command': { type: 'string' },
    },
  });
  const level = values['log-level'] as JsonLogLevel;
  const logger = createJsonLineLogger({
    fd: 2,
    level: ['debug', 'info', 'warn', 'error'].includes(level) ? level : 'info',
  });
  if (!values.socket || !values['state-dir']) {
    logger.error({}, 'usage: daemon-main --socket PATH --state-dir DIR [--pid-file PATH] [--log-file PATH]');
    return 5;
  }
  process.title = 'slapos-supervisord';
  process.on('uncaughtException', (error) => {
    // The programs keep running; the next daemon re-attaches to them.
    logger.error({ err: error }, 'uncaught exception: exiting');
    process.exit(70);
  });
  const notifyCommand = values['notify-command'];
  try {
    return await runSupervisorDaemon({
      socketPath: values.socket,
      stateDir: values['state-dir'],
      ...(values['pid-file'] ? { pidFile: values['pid-file'] } : {}),
      logger,
      ...(values['log-file']
        ? { extraLogs: [{ path: values['log-file'], maxBytes: LOG_MAX_BYTES, backups: 1 }] }
        : {}),
      ...(notifyCommand ? { onUnexpectedExit: commandNotifier({ command: notifyCommand, logger }) } : {}),
    });
  } catch (error) {
    const slapError = toSlapError(error);
    logger.error({ code: slapError.code, hint: slapError.hint }, slapError.message);
    return slapError.exitCode;
  }
}

process.exitCode = await main();
