/**
 * Where the node's supervisor lives under the instance root, as SlapOS lays it out: the socket is
 * `<instance_root>/sv.sock` (as the original's supervisord), the pid file and the daemon's own log
 * under `var/run` and `var/log`; our persisted state (declared programs, process records) in
 * `var/supervisor` (mode 0700).
 */
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';

/** sun_path holds 108 bytes including the terminating NUL. */
export const SOCKET_PATH_MAX_BYTES = 107;

export interface SupervisorPaths {
  socket: string;
  stateDir: string;
  pidFile: string;
  logFile: string;
}

export function supervisorPaths(instanceRoot: string): SupervisorPaths {
  return {
    socket: join(instanceRoot, 'sv.sock'),
    stateDir: join(instanceRoot, 'var', 'supervisor'),
    pidFile: join(instanceRoot, 'var', 'run', 'supervisord.pid'),
    logFile: join(instanceRoot, 'var', 'log', 'supervisord.log'),
  };
}

/** Unix socket paths longer than sun_path would be truncated by the kernel: refuse them clearly. */
export function assertSocketPath(path: string): string {
  const bytes = Buffer.byteLength(path);
  if (bytes > SOCKET_PATH_MAX_BYTES)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `supervisor socket path is ${bytes} bytes long, over the ${SOCKET_PATH_MAX_BYTES}-byte limit of unix sockets: ${path}`,
      { hint: 'use a shorter instance_root, or give another socket path with --socket' },
    );
  return path;
}
