/**
 * Runs a partition's declared backup, restore and check commands (contract §1): each an absolute
 * path, no arguments, no shell, as the partition's user, in the partition root, with a deadline. A
 * command that fails (exit status, signal, deadline) is an error naming it, with the last lines it
 * wrote on stderr.
 */
import { SlapError } from '../../core/errors.ts';
import { cleanEnv, execFile } from '../../lib/exec.ts';
import { partitionOwner } from '../partitions.ts';

export interface CommandContext {
  partitionRoot: string;
  /** What the commands are for (in messages): `backup`, `restore`, `check`. */
  kind: 'backup' | 'restore' | 'check';
  timeoutMs: number;
  signal?: AbortSignal;
}

export type PartitionCommandRunner = (command: string, context: CommandContext) => Promise<void>;

/** The runner the node uses: as the owner of the partition directory when the node is root. */
export const runPartitionCommand: PartitionCommandRunner = async (command, context) => {
  const owner = await partitionOwner(context.partitionRoot);
  const result = await execFile(command, [], {
    cwd: context.partitionRoot,
    env: cleanEnv({ HOME: owner.home, USER: owner.name, LOGNAME: owner.name }),
    timeoutMs: context.timeoutMs,
    maxOutputBytes: 64 * 1024,
    ...(owner.switchUser ? { uid: owner.uid, gid: owner.gid } : {}),
    ...(context.signal ? { signal: context.signal } : {}),
  }).catch((error: unknown) => {
    throw new SlapError('SLAP_ERR_SYSTEM_COMMAND', `${context.kind} command ${command} could not start`, {
      cause: error,
    });
  });
  if (result.exitCode === 0 && !result.timedOut) return;
  const how = result.timedOut
    ? `did not finish within ${context.timeoutMs / 1000} s`
    : result.signal
      ? `was killed by ${result.signal}`
      : `exited with status ${result.exitCode}`;
  const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
  throw new SlapError(
    'SLAP_ERR_SYSTEM_COMMAND',
    `${context.kind} command ${command} ${how}${tail === '' ? '' : `: ${tail}`}`,
  );
};

/** Runs `commands` in order; the first failure stops them. */
export async function runCommands(
  run: PartitionCommandRunner,
  commands: readonly string[],
  context: CommandContext,
): Promise<void> {
  for (const command of commands) await run(command, context);
}
