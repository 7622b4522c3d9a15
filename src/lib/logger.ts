/**
 * Structured logging (pino). Logic logs records through an injected Logger; it never prints.
 * Daemons log JSON lines; the CLI decides where they go.
 */
import { createRequire } from 'node:module';
import type * as PinoModule from 'pino';
import type { Logger as PinoLogger, LevelWithSilent } from 'pino';

// pino is loaded on the first logger made: commands that log nothing (`slapos --help`) skip it.
let pinoModule: typeof PinoModule | undefined;
function loadPino(): typeof PinoModule {
  pinoModule ??= createRequire(import.meta.url)('pino') as typeof PinoModule;
  return pinoModule;
}

export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export interface LoggerOptions {
  name?: string;
  level?: LogLevel;
  /** A file path or a file descriptor (default: 2, stderr). Writes are synchronous so nothing is lost on exit. */
  destination?: string | number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const { pino } = loadPino();
  const destination = pino.destination({ dest: options.destination ?? 2, sync: true, mkdir: true });
  return pino(
    {
      name: options.name ?? 'slapos',
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

let silent: Logger | undefined;

/**
 * A logger that drops everything: the default for library code and tests. One shared instance
 * (creating a pino logger costs milliseconds); never change its level.
 */
export function silentLogger(): Logger {
  silent ??= loadPino().pino({ level: 'silent' });
  return silent;
}
