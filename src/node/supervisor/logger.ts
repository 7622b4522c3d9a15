/**
 * The logging the supervisor needs: the `(object, message)` calls of a pino logger, so a pino Logger
 * can be passed as is. The daemon itself uses `createJsonLineLogger` (same JSON lines as pino) to
 * stay small in memory: loading pino costs the long-lived daemon about 7 MB of resident memory.
 */
import { writeSync } from 'node:fs';

export interface SupervisorLogger {
  debug(object: object, message: string): void;
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export const nullLogger: SupervisorLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
export type JsonLogLevel = keyof typeof LEVELS;

function serialise(value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  return value;
}

/** A pino-compatible JSON-lines logger writing synchronously to a file descriptor. */
export function createJsonLineLogger(options: {
  fd: number;
  level?: JsonLogLevel;
  name?: string;
}): SupervisorLogger {
  const threshold = LEVELS[options.level ?? 'info'];
  const write = (level: JsonLogLevel, object: object, message: string): void => {
    if (LEVELS[level] < threshold) return;
    const record: Record<string, unknown> = {
      level: LEVELS[level],
      time: new Date().toISOString(),
      pid: process.pid,
      name: options.name ?? 'slapos-supervisord',
    };
    for (const [key, value] of Object.entries(object)) record[key] = serialise(value);
    record.msg = message;
    try {
      writeSync(options.fd, `${JSON.stringify(record)}\n`);
    } catch {
      // a log that cannot be written must not take the daemon down
    }
  };
  return {
    debug: (object, message) => write('debug', object, message),
    info: (object, message) => write('info', object, message),
    warn: (object, message) => write('warn', object, message),
    error: (object, message) => write('error', object, message),
  };
}
