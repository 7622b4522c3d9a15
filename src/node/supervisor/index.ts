/** The node's process supervisor: daemon, in-process supervisor, client and their vocabulary. */
export * from './types.ts';
export { createSupervisor, Supervisor, type SupervisorOptions } from './supervisor.ts';
export { SupervisorClient, type SupervisorClientOptions } from './client.ts';
export {
  runSupervisorDaemon,
  startSupervisorDaemon,
  SupervisorDaemon,
  type SupervisorDaemonOptions,
  type SupervisorDaemonState,
} from './daemon.ts';
export { launchSupervisorDaemon, type LaunchOptions, type LaunchResult } from './launch.ts';
export { assertSocketPath, supervisorPaths, SOCKET_PATH_MAX_BYTES, type SupervisorPaths } from './paths.ts';
export { commandNotifier, recordingNotifier, type RecordedExit } from './notifiers.ts';
export { PROGRAM_DEFAULTS, normalizeProgram } from './program-config.ts';
export { formatUptime } from './program.ts';
export { createJsonLineLogger, nullLogger, type SupervisorLogger } from './logger.ts';
