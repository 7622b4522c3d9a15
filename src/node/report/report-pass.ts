/**
 * `slapos node report` as a function (node.md §6.1–6.2): per partition, its `etc/report` scripts run
 * and its usage since the previous report is measured (CPU time, memory, disk); the usage, with the
 * movements of the partitions' own consumption files, goes to the master as one TioXML journal for
 * the interval, followed by the computer-level journals dropped in
 * `<instance_root>/var/xml_report/<computer_id>/`, sealed in the node's chain when it has a
 * certificate and sent again until the master takes them (usage-journals.ts); then every partition
 * whose instance is destroyed is destroyed, with the function `node instance` uses.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../core/clock.ts';
import { EXIT, SlapError } from '../../core/errors.ts';
import { MAX_USAGE_MOVEMENTS } from '../../core/usage-journal.ts';
import { cleanEnv, execFile } from '../../lib/exec.ts';
import { isDirectory } from '../../lib/path-exists.ts';
import { silentLogger } from '../../lib/logger.ts';
import type { NodeConfig } from '../config.ts';
import { PassCache, processPartition, type PartitionItemResult } from '../instance/instance-pass.ts';
import type { PasswdCache } from '../partitions.ts';
import { partitionOwner } from '../partitions.ts';
import { passError, type NodePassOptions, type PassError } from '../pass.ts';
import { JsonApiStateSource, type NodeStateSource, type WantedPartition } from '../state-source.ts';
import type { SupervisorControl } from '../supervisor/types.ts';
import type { JournalDelivery } from './journal-queue.ts';
import { measurePartitions } from './usage.ts';
import { runUsageRound } from './usage-journals.ts';
import {
  parsePartitionConsumption,
  usageMovements,
  type PartitionUsage,
  type UsageMovement,
} from './usage-xml.ts';

export interface ReportPassOptions extends NodePassOptions {
  supervisor: SupervisorControl;
  source?: NodeStateSource;
  /** Milliseconds allowed to each `etc/report` script (default 60 s). */
  scriptTimeoutMs?: number;
  /** Where /proc is (tests). */
  procRoot?: string;
}

export interface ReportPassResult {
  usage: PartitionUsage[];
  /** The journal built in this pass, as sent (undefined when there was nothing to report, or an
   * earlier journal is still waiting to be sent). */
  usageXml: string | undefined;
  sent: boolean;
  /** The first journal that could not be sent, or that the master refused. */
  sendError?: PassError;
  /** Every journal sent, refused, or left waiting to be sent again, in order. */
  journals: JournalDelivery[];
  /** `etc/report` scripts that failed. */
  failedScripts: { partitionId: string; script: string; message: string }[];
  /** Consumption files left in place because they do not match the schema. */
  invalidFiles: { path: string; reason: string }[];
  /** Computer-level journals (`var/xml_report/<computer_id>/`) sent, or why not. */
  computerReports: { path: string; sent: boolean; error?: PassError }[];
  /** Destroyed partitions, as `node instance` reports them. */
  destroyed: PartitionItemResult[];
  /** 0, or 1 when usage could not be sent or a destruction failed. */
  exitCode: number;
  durationMs: number;
}

const XML_REPORT_DIR = join('var', 'xml_report');

export async function runReportPass(
  config: NodeConfig,
  options: ReportPassOptions,
): Promise<ReportPassResult> {
  const started = performance.now();
  const logger = options.logger ?? silentLogger();
  const clock = options.clock ?? systemClock;
  const call = options.signal ? { signal: options.signal } : {};
  const source = options.source ?? new JsonApiStateSource(options.master, config.computerId);
  const state = await source.read({ software: false, partitions: true, ...call });
  const wanted = state.partitions ?? [];
  const active: WantedPartition[] = [];
  for (const partition of wanted)
    if (
      partition.requestedState !== 'destroyed' &&
      (await isDirectory(join(config.instanceRoot, partition.partitionId)))
    )
      active.push(partition);

  const result: ReportPassResult = {
    usage: [],
    usageXml: undefined,
    sent: false,
    journals: [],
    failedScripts: [],
    invalidFiles: [],
    computerReports: [],
    destroyed: [],
    exitCode: EXIT.ok,
    durationMs: 0,
  };

  const cache = new PassCache(config);
  const passwd = cache.passwd;
  const consumed: string[] = [];
  const movements: UsageMovement[] = [];
  for (const partition of active) {
    options.signal?.throwIfAborted();
    const path = join(config.instanceRoot, partition.partitionId);
    for (const failure of await runReportScripts(path, passwd, options)) {
      result.failedScripts.push({ partitionId: partition.partitionId, ...failure });
      await options.master
        .reportInstanceError(
          { instanceGuid: partition.instanceGuid, message: `Script '${failure.script}' failed.` },
          call,
        )
        .catch((error: unknown) => logger.warn({ err: error }, 'could not report a failed report script'));
    }
    for (const dir of [
      join(path, XML_REPORT_DIR),
      join(config.instanceRoot, XML_REPORT_DIR, partition.partitionId),
    ]) {
      for (const file of await xmlFiles(dir)) {
        try {
          const read = parsePartitionConsumption(await readFile(file, 'utf8'), partition.partitionId);
          // The master refuses a journal of more than MAX_USAGE_MOVEMENTS: the node's own three
          // per partition always fit; a file that does not fit now waits for the next report.
          if (movements.length + read.length > MAX_USAGE_MOVEMENTS - 3 * active.length) {
            logger.warn({ file }, 'consumption file left for the next report: this journal is full');
            continue;
          }
          movements.push(...read);
          consumed.push(file);
        } catch (error) {
          logger.warn({ file, reason: (error as Error).message }, 'invalid consumption file left in place');
          result.invalidFiles.push({ path: file, reason: (error as Error).message });
        }
      }
    }
  }

  const computerFiles = await xmlFiles(join(config.instanceRoot, XML_REPORT_DIR, config.computerId));
  const reportUsage = async (): Promise<void> => {
    const round = await runUsageRound(config, {
      master: options.master,
      logger,
      clock,
      ...call,
      ...(options.procRoot === undefined ? {} : { procRoot: options.procRoot }),
      consumedFiles: consumed,
      computerFiles,
      measure: async (previous) => {
        const status = await options.supervisor.status();
        const measure = await measurePartitions(
          active.map((p) => p.partitionId),
          {
            instanceRoot: config.instanceRoot,
            processes: status.processes,
            ...(previous === undefined ? {} : { previous }),
            ...(options.procRoot === undefined ? {} : { procRoot: options.procRoot }),
          },
        );
        result.usage = measure.usages;
        for (const usage of measure.usages) {
          options.onProgress?.({ type: 'usage', ...usage });
          movements.push(...usageMovements(usage));
        }
        return { movements, counters: measure.counters };
      },
    });
    result.usageXml = round.document;
    result.journals = round.deliveries;
    const failed = round.deliveries.find((delivery) => delivery.outcome !== 'sent');
    if (failed?.error) {
      result.sendError = failed.error;
      result.exitCode = EXIT.failure;
    }
    result.sent = round.built?.outcome === 'sent';
    for (const file of round.measured ? computerFiles : []) {
      const delivery = round.deliveries.find((d) => d.source === file);
      result.computerReports.push({
        path: file,
        sent: delivery?.outcome === 'sent',
        ...(delivery?.error ? { error: delivery.error } : {}),
      });
    }
  };
  try {
    await reportUsage();
  } catch (error) {
    // The usage state or the node's key cannot be read: destroying partitions goes on regardless.
    options.signal?.throwIfAborted();
    result.sendError = passError(error);
    result.exitCode = EXIT.failure;
    logger.error({ err: error }, 'could not report the usage');
  }

  for (const partition of wanted) {
    if (partition.requestedState !== 'destroyed') continue;
    options.signal?.throwIfAborted();
    const item = await processPartition(config, partition, { ...options, cache });
    result.destroyed.push(item);
    if (item.outcome === 'failed') result.exitCode = EXIT.failure;
  }
  result.durationMs = performance.now() - started;
  return result;
}

async function xmlFiles(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory)).sort().map((name) => join(directory, name));
  } catch {
    return [];
  }
}

/**
 * Runs each `etc/report/*` executable as the partition user, in `etc/report`, with one argument: a
 * fresh path under `var/xml_report/` where it may write a consumption file (node.md §6.1).
 */
async function runReportScripts(
  path: string,
  passwd: PasswdCache,
  options: ReportPassOptions,
): Promise<{ script: string; message: string }[]> {
  const directory = join(path, 'etc', 'report');
  let scripts: string[];
  try {
    scripts = (await readdir(directory)).sort();
  } catch {
    return [];
  }
  if (scripts.length === 0) return [];
  const owner = await partitionOwner(path, { passwd });
  await mkdir(join(path, XML_REPORT_DIR), { recursive: true });
  const exec = options.exec ?? execFile;
  const failures: { script: string; message: string }[] = [];
  for (const script of scripts) {
    const output = join(path, XML_REPORT_DIR, `slapreport.${randomBytes(4).toString('hex')}`);
    try {
      const run = await exec(join(directory, script), [output], {
        cwd: directory,
        env: cleanEnv({ HOME: owner.home }),
        timeoutMs: options.scriptTimeoutMs ?? 60_000,
        ...(owner.switchUser ? { uid: owner.uid, gid: owner.gid } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        maxOutputBytes: 16 * 1024,
      });
      if (run.exitCode !== 0)
        throw new SlapError(
          'SLAP_ERR_SYSTEM_COMMAND',
          `status ${run.exitCode ?? run.signal}: ${run.stderr.trim().split('\n').slice(-3).join(' ')}`,
        );
    } catch (error) {
      failures.push({ script, message: (error as Error).message });
    }
  }
  return failures;
}
