/**
 * Notifiers for unexpected exits (`onUnexpectedExit`). The node agent wires the real one (a bang to
 * the master through src/client); here are a recording notifier for tests and a command notifier
 * (SlapOS's watchdog event listener, generalised): it runs an executable with the event as JSON on
 * its stdin and `SUPERVISOR_GROUP_NAME` / `SUPERVISOR_PROCESS_NAME` in its environment.
 */
import { cleanEnv, execFile } from '../../lib/exec.ts';
import type { SupervisorLogger } from './logger.ts';
import type { UnexpectedExitInfo, UnexpectedExitNotifier } from './types.ts';

export interface RecordedExit {
  group: string;
  program: string;
  info: UnexpectedExitInfo;
}

/** Keeps every notification in `calls`. */
export function recordingNotifier(): { notify: UnexpectedExitNotifier; calls: RecordedExit[] } {
  const calls: RecordedExit[] = [];
  return { calls, notify: (group, program, info) => void calls.push({ group, program, info }) };
}

export interface CommandNotifierOptions {
  command: string;
  args?: readonly string[];
  timeoutMs?: number;
  logger: SupervisorLogger;
}

export function commandNotifier(options: CommandNotifierOptions): UnexpectedExitNotifier {
  return async (group, program, info) => {
    const result = await execFile(options.command, options.args ?? [], {
      env: cleanEnv({ SUPERVISOR_GROUP_NAME: group, SUPERVISOR_PROCESS_NAME: program }),
      input: `${JSON.stringify({ group, program, ...info })}\n`,
      timeoutMs: options.timeoutMs ?? 60_000,
      maxOutputBytes: 16 * 1024,
    });
    if (result.exitCode !== 0)
      options.logger.warn(
        {
          group,
          program,
          exitCode: result.exitCode,
          timedOut: result.timedOut,
          stderr: result.stderr.slice(-2000),
        },
        'exit notifier command failed',
      );
  };
}
