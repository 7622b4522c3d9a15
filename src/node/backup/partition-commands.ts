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

/** Runs one command; what it said last on stdout (one line), if anything, e.g. a check's verdict. */
export type PartitionCommandRunner = (command: string, context: CommandContext) => Promise<string | void>;

/** The last non-empty line of `text`, without control characters, at most 200 characters. */
export function lastLine(text: string): string {
  const lines = text
    .split(/[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/)
    .map((line) => line.replace(/[\x00-\x1f\x7f-\x9f]/g, ' ').trim());
  return (lines.filter((line) => line !== '').at(-1) ?? '').slice(0, 200).trimEnd();
}

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
  if (result.exitCode === 0 && !result.timedOut) return lastLine(result.stdout);
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

/** Runs `commands` in order; the first failure stops them. What each said last (non-empty ones). */
export async function runCommands(
  run: PartitionCommandRunner,
  commands: readonly string[],
  context: CommandContext,
): Promise<string[]> {
  const said: string[] = [];
  for (const command of commands) {
    const output = await run(command, context);
    if (typeof output === 'string' && output !== '') said.push(output);
  }
  return said;
}
