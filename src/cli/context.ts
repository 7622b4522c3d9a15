/**
 * What every CLI command receives: where to write, the environment, and a logger. Commands render
 * output only through this context so tests can capture it.
 */
import type { Writable } from 'node:stream';
import type { Logger } from '../lib/logger.ts';

export type LoggerKind = 'command' | 'daemon';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CliContext extends CliIo {
  /** Writes a line (or lines) to stdout. */
  print(text: string): void;
  /** Writes a value as pretty JSON to stdout. */
  printJson(value: unknown): void;
  /** Writes a line to stderr (progress, warnings). */
  note(text: string): void;
  /**
   * The logger configured by the global -v/-q/--log-file options (created on first use): a
   * `daemon` logs at info by default, a one-shot `command` only warnings.
   */
  logger(kind?: LoggerKind): Logger;
  /** Set by a command that wants a non-zero exit code without throwing. */
  exitCode: number;
}
