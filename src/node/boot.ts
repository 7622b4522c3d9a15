/**
 * `slapos node boot` as a function (node.md §7.6): at machine start, wait for the node's IPv6 (system
 * mode), format until it works (the master may not be up yet), bang the compute node until the master
 * hears it, and forget every partition's `.timestamp` so that the next `node instance` deploys and
 * starts everything again.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { NodeConfig } from './config.ts';
import { removeTimestamp, TIMESTAMP_FILE } from './instance/partition-files.ts';
import type { NodeMaster, NodeProgressListener } from './pass.ts';
import { localPartitionIds } from './partitions.ts';

export interface BootPassOptions {
  master: NodeMaster;
  /** `slapos node format --now`; `postError` set when the master was not told (offline). */
  format: () => Promise<{ postError?: string | undefined }>;
  /** The interface whose global IPv6 to wait for (system mode); undefined: do not wait. */
  ipv6Interface?: string | undefined;
  /** Message of the compute node bang (default `Reboot`). */
  message?: string;
  /** Pause between attempts (default 15 s; the IPv6 check every 5 s). */
  retryDelayMs?: number;
  /** Give up after this many attempts of each step (default: never). */
  maxAttempts?: number;
  /** Reads /proc/net/if_inet6 (injectable for tests). */
  readIfInet6?: () => Promise<string>;
  logger?: Logger;
  onProgress?: NodeProgressListener;
  signal?: AbortSignal;
}

export interface BootPassResult {
  formatAttempts: number;
  bangAttempts: number;
  /** Partitions whose `.timestamp` was removed. */
  cleared: string[];
  durationMs: number;
}

export async function runBootPass(config: NodeConfig, options: BootPassOptions): Promise<BootPassResult> {
  const started = performance.now();
  const logger = options.logger ?? silentLogger();
  const delay = options.retryDelayMs ?? 15_000;
  const step = (message: string): void => {
    logger.info(message);
    options.onProgress?.({ type: 'step', message });
  };
  const pause = (ms: number): Promise<void> =>
    sleep(ms, undefined, options.signal ? { signal: options.signal } : {});
  const attempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;

  if (options.ipv6Interface !== undefined) {
    step(`Waiting for a global IPv6 address on ${options.ipv6Interface}`);
    const read = options.readIfInet6 ?? (() => readFile('/proc/net/if_inet6', 'utf8'));
    for (let attempt = 1; !hasGlobalIpv6(await read().catch(() => ''), options.ipv6Interface); attempt++) {
      if (attempt >= attempts) throw new Error(`no global IPv6 address on ${options.ipv6Interface}`);
      await pause(Math.min(delay, 5000));
    }
  }

  let formatAttempts = 0;
  for (;;) {
    formatAttempts++;
    step('Formatting the compute node');
    let problem: string | undefined;
    try {
      problem = (await options.format()).postError;
    } catch (error) {
      problem = (error as Error).message;
    }
    if (problem === undefined) break;
    logger.warn({ attempt: formatAttempts, problem }, 'format did not succeed: retrying');
    if (formatAttempts >= attempts) throw new Error(`format failed: ${problem}`);
    await pause(delay);
  }

  let bangAttempts = 0;
  for (;;) {
    bangAttempts++;
    step(`Banging the compute node ${config.computerId}`);
    try {
      await options.master.bangComputeNode(
        { computerGuid: config.computerId, message: options.message ?? 'Reboot' },
        options.signal ? { signal: options.signal } : {},
      );
      break;
    } catch (error) {
      logger.warn({ attempt: bangAttempts, err: error }, 'bang failed: retrying');
      if (bangAttempts >= attempts) throw error;
      await pause(delay);
    }
  }

  const cleared: string[] = [];
  for (const id of await localPartitionIds(config.instanceRoot)) {
    const path = join(config.instanceRoot, id);
    if ((await readFile(join(path, TIMESTAMP_FILE)).catch(() => undefined)) === undefined) continue;
    await removeTimestamp(path);
    cleared.push(id);
  }
  step(`Cleared the timestamp of ${cleared.length} partition${cleared.length === 1 ? '' : 's'}`);
  return { formatAttempts, bangAttempts, cleared, durationMs: performance.now() - started };
}

/** /proc/net/if_inet6 lines: address, index, prefix length, scope (00 = global), flags, interface. */
export function hasGlobalIpv6(ifInet6: string, iface: string): boolean {
  return ifInet6.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields.length >= 6 && fields[5] === iface && fields[3] === '00';
  });
}
