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

const LEVEL_VALUES: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

/**
 * A logger made on its first record at or above `level`, or on any other use (child, level…):
 * a one-shot command whose log stays below its level (most of them: `service list` logs its master
 * calls at debug under the default warn) never loads pino.
 */
export function deferredLogger(options: LoggerOptions & { level: LogLevel }): Logger {
  let real: Logger | undefined;
  const threshold = LEVEL_VALUES[options.level] ?? 0;
  const dropped = (): void => undefined;
  const materialise = (): Logger => (real ??= createLogger(options));
  return new Proxy({} as Logger, {
    get(_target, key) {
      if (real === undefined && typeof key === 'string' && (LEVEL_VALUES[key] ?? Infinity) < threshold)
        return dropped;
      const logger = materialise();
      const value: unknown = Reflect.get(logger, key, logger);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(logger) : value;
    },
    set: (_target, key, value) => Reflect.set(materialise(), key, value),
    has: (_target, key) => Reflect.has(materialise(), key),
  });
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
