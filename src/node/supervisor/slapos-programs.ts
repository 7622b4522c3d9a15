/**
 * The programs of a partition as SlapOS declares them (docs/node.md §4.6): one per executable of
 * `etc/run` (name = file name; run once, never restarted) then of `etc/service` (name = file name
 * + `-on-watch`; watched). Same directory, command, stop signal and deadline (60 s), log path
 * (`<partition>/.<group>_<file>.log`), size cap (100 KB, 1 backup) and environment (USER, LOGNAME,
 * HOME) as the original. Our change: a service that exits is restarted by the supervisor (with
 * growing delays) instead of waiting for the master's next processing after the bang; and every
 * exit of a service, even status 0, is unexpected (`exitcodes: []`), so it is notified (bang) as
 * the original watchdog does.
 */
import { join } from 'node:path';
import type { ProgramSpec } from './types.ts';

export interface PartitionProgramsOptions {
  /** Partition id: the group name (e.g. slappart0). */
  group: string;
  /** The partition directory. */
  partitionPath: string;
  /** File names in `etc/run` and `etc/service` (sorted here). */
  runFiles: readonly string[];
  serviceFiles: readonly string[];
  /** The partition user's numeric ids (system mode); omitted in sandbox mode. */
  uid?: number;
  gid?: number;
  /** The partition user's name and home (the original sets USER, LOGNAME and HOME only). */
  user?: string;
  home?: string;
}

export const SLAPOS_LOG_MAX_BYTES = 100 * 1024;
export const SLAPOS_STOP_WAIT_SECS = 60;

export function partitionPrograms(options: PartitionProgramsOptions): ProgramSpec[] {
  const env: Record<string, string> = {};
  if (options.user !== undefined) {
    env.USER = options.user;
    env.LOGNAME = options.user;
  }
  if (options.home !== undefined) env.HOME = options.home;
  const common = (file: string, dir: 'run' | 'service'): ProgramSpec => ({
    name: file,
    command: join(options.partitionPath, 'etc', dir, file),
    cwd: options.partitionPath,
    env,
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
    autostart: false,
    startsecs: 0,
    startretries: 0,
    stopsignal: 'TERM',
    stopwaitsecs: SLAPOS_STOP_WAIT_SECS,
    logFile: join(options.partitionPath, `.${options.group}_${file}.log`),
    logMaxBytes: SLAPOS_LOG_MAX_BYTES,
    logBackups: 1,
  });
  return [
    ...[...options.runFiles].sort().map((file) => ({
      ...common(file, 'run'),
      autorestart: false,
      exitcodes: [0],
    })),
    ...[...options.serviceFiles].sort().map((file) => ({
      ...common(file, 'service'),
      name: `${file}-on-watch`,
      autorestart: true,
      exitcodes: [],
    })),
  ];
}
