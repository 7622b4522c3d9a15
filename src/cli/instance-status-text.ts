/**
 * What the node reported on an instance, in the words of `slapos request` and `slapos service info`
 * (the status comes from the master's extension, src/core/instance-status.ts decides it).
 */
import type { InstanceStatus, PromiseResults } from '../client/types.ts';
import { indentBlock, oneLine } from './text-block.ts';

const MESSAGE_INDENT = '    ';

function when(date: string | null): string {
  return date === null ? '' : ` (reported ${date})`;
}

/** One line saying where the instance is, then the error with its log tail when there is one. */
export function instanceStatusLines(status: InstanceStatus): string[] {
  const withMessage = (line: string): string[] => [
    line,
    ...indentBlock(status.status_message ?? '(no message)', MESSAGE_INDENT, MESSAGE_INDENT),
  ];
  switch (status.status) {
    case 'unallocated':
      // Master mode says why (no node admits it, or none has room); it is placed once one can.
      return status.status_message
        ? withMessage('Node status: waiting for a partition:')
        : ['Node status: no partition allocated yet'];
    case 'waiting-software':
      return [
        `Node status: waiting for its software release (${status.software_installation_status ?? 'not supplied to its compute node: slapos supply'})`,
      ];
    case 'software-failed':
      return withMessage('Node status: waiting for its software release, whose build failed:');
    case 'deploying':
      return ['Node status: deploying (the node has not reported on the latest request yet)'];
    case 'started':
    case 'stopped':
      return [`Node status: ${status.status}${when(status.reported_at)}`];
    case 'failed':
      return withMessage(`Node status: failed${when(status.error_at)}:`);
    case 'destroying':
      return ['Node status: being destroyed'];
  }
}

/** Whether promise results no longer say anything of a running service: the instance is (to be) stopped. */
export function promiseResultsStale(
  status: Pick<InstanceStatus, 'requested_state' | 'reported_state'>,
): boolean {
  return status.requested_state === 'stopped' || status.reported_state === 'stopped';
}

/** The promise results with their dates; marked stale when the instance is stopped. */
export function promiseResultLines(results: PromiseResults, stale: boolean): string[] {
  if (results.result_list.length === 0) return [];
  const staleNote = stale ? ' — stale: the instance is stopped, its promises no longer run' : '';
  const lines = [`Promises (reported at ${results.reported_at ?? 'an unknown date'})${staleNote}:`];
  for (const result of results.result_list) {
    const head = `  ${oneLine(result.name)}: ${result.status} (${result.date})${stale ? ' [stale]' : ''}`;
    lines.push(...(result.message ? indentBlock(result.message, `${head} `, MESSAGE_INDENT) : [head]));
  }
  return lines;
}
