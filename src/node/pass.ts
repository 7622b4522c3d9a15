/**
 * What the node's one-shot passes (software, instance, report, boot) share: the master calls they
 * make, their progress events, the shape of a failed item, and the injected pieces (logger, clock,
 * exec, signal). The CLI renders the events; the agent (`slapos node run`) reads the results to retry
 * failed items on their own.
 */
import type { BuildoutEvent } from '../buildout/progress.ts';
import type { ExecFunction, RecipeMap } from '../buildout/recipe.ts';
import type { MasterClient } from '../client/master-client.ts';
import type { Clock } from '../core/clock.ts';
import { SlapError, toSlapError, type ErrorCode } from '../core/errors.ts';
import type { Logger } from '../lib/logger.ts';

/** The master calls the passes make (a `MasterClient` is one). */
export type NodeMaster = Pick<
  MasterClient,
  | 'listSoftwareInstallations'
  | 'listComputeNodeInstances'
  | 'getComputePartition'
  | 'reportSoftwareInstallationState'
  | 'reportSoftwareInstallationError'
  | 'reportInstanceState'
  | 'reportInstanceError'
  | 'getInstanceCertificate'
  | 'bang'
  | 'bangComputeNode'
  | 'reportComputeNodeUsage'
  | 'reportPromiseResults'
>;

export type NodeProgressEvent =
  | {
      type: 'software';
      url: string;
      /** `kept`: to be removed, but instances still use it (`message` lists their partitions). */
      action: 'building' | 'available' | 'up-to-date' | 'destroyed' | 'kept' | 'failed';
      message?: string;
    }
  | {
      type: 'partition';
      partitionId: string;
      action:
        | 'processing'
        | 'up-to-date'
        | 'started'
        | 'stopped'
        | 'destroying'
        | 'destroyed'
        | 'destroy-pending'
        | 'failed'
        | 'promise-failed';
      state?: string;
      message?: string;
    }
  /** A buildout event of a software build (`target` = the URL) or an instance run (the partition). */
  | { type: 'buildout'; scope: 'software' | 'partition'; target: string; event: BuildoutEvent }
  | { type: 'promise'; partitionId: string; title: string; failed: boolean; message: string }
  | { type: 'usage'; partitionId: string; cpuSeconds: number; memoryBytes: number; diskBytes: number }
  | { type: 'offline'; message: string }
  | { type: 'step'; message: string };

export type NodeProgressListener = (event: NodeProgressEvent) => void;

/** Why an item failed, in a form the agent can act on (and print). */
export interface PassError {
  code: ErrorCode;
  message: string;
  hint?: string;
}

export function passError(error: unknown): PassError {
  const slapError = toSlapError(error);
  return {
    code: slapError.code,
    message: slapError.message,
    ...(slapError.hint === undefined ? {} : { hint: slapError.hint }),
  };
}

/** The master could not be reached (or did not answer in time): a pass may carry on offline. */
export function isUnreachable(error: unknown): boolean {
  return (
    error instanceof SlapError && (error.code === 'SLAP_ERR_UNAVAILABLE' || error.code === 'SLAP_ERR_TIMEOUT')
  );
}

/** Options every pass takes. */
export interface NodePassOptions {
  /** The master (usually a MasterClient built from slapos.cfg). */
  master: NodeMaster;
  logger?: Logger;
  onProgress?: NodeProgressListener;
  signal?: AbortSignal;
  clock?: Clock;
  /** Subprocess runner (buildout as a partition user, hooks, report scripts); injectable to count spawns. */
  exec?: ExecFunction;
  /** Recipes added to the profile engine's built-in ones (in-process runs). */
  recipes?: RecipeMap;
}
