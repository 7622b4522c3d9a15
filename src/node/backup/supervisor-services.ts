/** The backup agent's view of a partition's services: its group in the node's supervisor. */
import { SlapError } from '../../core/errors.ts';
import { RUNNING_STATES, type SupervisorControl } from '../supervisor/types.ts';
import type { PartitionServices } from './agent.ts';

export function supervisorServices(supervisor: SupervisorControl): PartitionServices {
  return {
    async stop(partitionId) {
      try {
        const results = await supervisor.stopGroup(partitionId);
        const failed = results.find((result) => !result.ok);
        if (failed && !failed.ok)
          throw new SlapError(
            'SLAP_ERR_SYSTEM_COMMAND',
            `cannot stop ${failed.name} of ${partitionId}: ${failed.error.message}`,
          );
      } catch (error) {
        // A partition without programs has nothing running.
        if (!(error instanceof SlapError && error.code === 'SLAP_ERR_NO_SUCH_PROCESS')) throw error;
      }
    },
    async start(partitionId) {
      const results = await supervisor.startGroup(partitionId, { wait: true });
      const failed = results.find((result) => !result.ok);
      if (failed && !failed.ok)
        throw new SlapError(
          'SLAP_ERR_PROCESS_START_FAILED',
          `cannot start ${failed.name} of ${partitionId}: ${failed.error.message}`,
        );
    },
    async runningPartitions() {
      const { processes } = await supervisor.status();
      return new Set(
        processes.filter((process) => RUNNING_STATES.includes(process.state)).map((process) => process.group),
      );
    },
  };
}
