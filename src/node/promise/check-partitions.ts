/**
 * What `slapos node promise` does, one-shot or asked of the running agent: run now (forced, `test`
 * mode) the promises of the chosen partitions that are started, and sum up. Stopped, destroyed and
 * free partitions are skipped: their services are not meant to answer.
 */
import { join } from 'node:path';
import { EXIT } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { NodeConfig } from '../config.ts';
import { readPartitionRecord } from '../instance/partition-files.ts';
import { localPartitionIds, selectPartitionIds } from '../partitions.ts';
import { runPromises, type PromiseOutcome } from './run-promises.ts';

export interface PartitionPromiseCheck {
  partition: string;
  ok: boolean;
  results: readonly PromiseOutcome[];
}

export interface PromiseCheckResult {
  /** 0, or 2 (EXIT.promiseFailure) when a promise failed. */
  exitCode: number;
  ok: boolean;
  partitions: PartitionPromiseCheck[];
}

export interface CheckPartitionPromisesOptions {
  /** Partition ids to check (default: all); an unknown id is a usage error. */
  only?: readonly string[] | undefined;
  /** Seconds per promise (default: the node's promise_timeout). */
  timeout?: number | undefined;
  logger: Logger;
  signal?: AbortSignal;
  /** Runs `work` on the partition when nothing else works on it (the agent); default: at once. */
  exclusive?: <T>(partitionId: string, work: () => Promise<T>) => Promise<T>;
}

/** The formatted partitions, filtered by `only` (throws SLAP_ERR_USAGE naming an unknown one). */
export async function selectLocalPartitions(
  config: NodeConfig,
  only: readonly string[] | undefined,
): Promise<string[]> {
  return selectPartitionIds(await localPartitionIds(config.instanceRoot), only);
}

export async function checkPartitionPromises(
  config: NodeConfig,
  options: CheckPartitionPromisesOptions,
): Promise<PromiseCheckResult> {
  const partitions: PartitionPromiseCheck[] = [];
  const exclusive = options.exclusive ?? ((_id, work) => work());
  for (const partition of await selectLocalPartitions(config, options.only)) {
    const path = join(config.instanceRoot, partition);
    const checked = await exclusive(partition, async () => {
      if ((await readPartitionRecord(path))?.requestedState !== 'started') return undefined;
      return runPromises(path, {
        mode: 'test',
        force: true,
        timeout: options.timeout ?? config.promiseTimeout,
        logger: options.logger,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    });
    if (checked) partitions.push({ partition, ok: checked.ok, results: checked.results });
  }
  const ok = partitions.every((partition) => partition.ok);
  return { exitCode: ok ? EXIT.ok : EXIT.promiseFailure, ok, partitions };
}
