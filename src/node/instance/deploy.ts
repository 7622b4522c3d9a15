/**
 * Deploying one partition whose instance is `started` or `stopped` (node.md §4.3–4.6): the instance
 * profile (`instance.cfg` + the tail) is run in the partition, its `etc/run` and `etc/service`
 * executables are declared to the supervisor, started or stopped, and — for `started` — the promises
 * decide whether the instance is reported started or in error (with the first failing promise's
 * message). Every step is idempotent: a crash half-way is repaired by the next pass.
 */
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BuildoutEvent } from '../../buildout/progress.ts';
import { systemClock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import type { RunLog } from '../build-log.ts';
import type { NodeConfig } from '../config.ts';
import { requireFreeSpace } from '../disk-space.ts';
import { runNodeBuildout } from '../node-buildout.ts';
import type { PartitionOwner } from '../partitions.ts';
import type { NodePassOptions } from '../pass.ts';
import { promiseFailureMessage, runPromises, type PromiseReport } from '../promise/run-promises.ts';
import { COMPLETED_FILE, softwareDirectory } from '../software/software-pass.ts';
import type { WantedPartition } from '../state-source.ts';
import { partitionPrograms } from '../supervisor/slapos-programs.ts';
import type { ActionResult, ProcessState, SupervisorControl, SupervisorStatus } from '../supervisor/types.ts';
import { instanceBuildoutTail, instanceProfile } from './buildout-tail.ts';
import { chooseInstanceEngine, runReleaseBuildout } from './release-buildout.ts';
import { removeCertificate, updateCertificate } from './certificates.ts';
import { pathExists } from '../../lib/path-exists.ts';

/** Everything one partition's processing needs. */
export interface PartitionJob {
  config: NodeConfig;
  wanted: WantedPartition;
  /** The partition directory. */
  path: string;
  owner: PartitionOwner;
  log: RunLog;
  supervisor: SupervisorControl;
  options: NodePassOptions & { promiseGraceMs?: number };
}

/** The partition mode the original insists on (node.md §4.4). */
export const PARTITION_MODE = 0o750;

export function jobLogger(job: PartitionJob): Logger {
  return (job.options.logger ?? silentLogger()).child({ partition: job.wanted.partitionId });
}

/** Runs the instance profile in the partition (node.md §4.4). */
export async function installInstance(job: PartitionJob): Promise<void> {
  const { config, wanted, path, owner } = job;
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory())
    throw new SlapError('SLAP_ERR_PARTITION_INVALID', `partition directory ${path} does not exist`, {
      hint: 'run slapos node format',
    });
  if ((info.mode & 0o7777) !== PARTITION_MODE) {
    // The original refuses to go on; repairing is safe (0750 is what format sets) and kinder.
    job.log.line(`Warning: mode of ${path} was ${(info.mode & 0o7777).toString(8)}, set to 750`);
    await chmod(path, PARTITION_MODE);
  }
  const software = softwareDirectory(config.softwareRoot, wanted.softwareReleaseUrl);
  // Unlike the original (node.md §11.6), an instance never runs a half-built software release.
  if (!(await pathExists(join(software, COMPLETED_FILE))))
    throw new SlapError(
      'SLAP_ERR_SOFTWARE_NOT_INSTALLED',
      `software release ${wanted.softwareReleaseUrl} is not installed on this node yet`,
      { hint: 'slapos node software installs it; the instance is deployed once it is available' },
    );
  const template = await readTemplate(software, wanted.softwareReleaseUrl);
  await linkSoftwareRelease(path, software, owner);
  const certificates =
    config.certificateRepositoryPath === undefined
      ? undefined
      : await updateCertificate(job.options.master, {
          repository: config.certificateRepositoryPath,
          partitionId: wanted.partitionId,
          instanceGuid: wanted.instanceGuid,
          owner: owner.switchUser ? owner : undefined,
          now: (job.options.clock ?? systemClock).now(),
          ...(job.options.signal ? { signal: job.options.signal } : {}),
        });
  const profile = join(path, 'buildout.cfg');
  const tail = instanceBuildoutTail({
    computerId: config.computerId,
    partitionId: wanted.partitionId,
    serverUrl: config.masterUrl,
    softwareReleaseUrl: wanted.softwareReleaseUrl,
    keyFile: certificates?.keyFile ?? '',
    certFile: certificates?.certFile ?? '',
    masterCaFile: config.masterCaFile,
    masterApi: config.masterApi,
    sharedPartList: config.sharedPartList,
    buildTimePartList: config.buildTimePartList,
    requestedState: wanted.requestedState,
    storageHome: config.instanceStorageHome ?? '',
    globalIpv4Network: config.ipv4GlobalNetwork ?? '',
  });
  await writeIfChanged(profile, instanceProfile(template, tail), 0o640);
  if (owner.switchUser) await chown(profile, 0, owner.gid);
  await requireFreeSpace(path, config.instanceMinFreeSpace, 'instance_min_free_space');
  job.log.line(`Running the instance profile of ${wanted.softwareReleaseUrl} (${wanted.requestedState})`);
  try {
    await runInstanceBuildout(job, profile, software);
  } catch (error) {
    // The master refused the instance's own certificate (revoked since: issuing one again for the
    // instance revokes the earlier ones): forgotten, so that the next processing asks for a new one.
    if (
      certificates !== undefined &&
      config.certificateRepositoryPath !== undefined &&
      error instanceof SlapError &&
      error.code === 'SLAP_ERR_UNAUTHENTICATED'
    ) {
      job.log.line("The master refused the instance's certificate: a new one is asked for at the next run");
      await removeCertificate(config.certificateRepositoryPath, wanted.partitionId);
    }
    throw error;
  }
}

async function runInstanceBuildout(job: PartitionJob, profile: string, software: string): Promise<void> {
  const { config, wanted, path, owner } = job;
  const onProgress = (event: BuildoutEvent): void => {
    job.log.event(event);
    job.options.onProgress?.({ type: 'buildout', scope: 'partition', target: wanted.partitionId, event });
  };
  const timeout = config.partitionTimeout === undefined ? {} : { timeoutMs: config.partitionTimeout * 1000 };
  const signal = job.options.signal ? { signal: job.options.signal } : {};
  const engine = await chooseInstanceEngine(config.instanceBuildout, {
    software,
    profile,
    directory: path,
    ...signal,
  });
  if (engine.kind === 'release') {
    job.log.line(`Running the instance profile with the release's ${engine.buildout}: ${engine.reason}`);
    return runReleaseBuildout({
      buildout: engine.buildout,
      directory: path,
      ...(owner.switchUser ? { runAs: { uid: owner.uid, gid: owner.gid } } : {}),
      ...timeout,
      ...signal,
      onProgress,
      ...(job.options.exec ? { exec: job.options.exec } : {}),
    });
  }
  return runNodeBuildout({
    directory: path,
    configFile: profile,
    ...(owner.switchUser
      ? { runAs: { uid: owner.uid, gid: owner.gid, instanceRoot: config.instanceRoot } }
      : {}),
    env: { HOME: path, SLAPGRID_INSTANCE_ROOT: config.instanceRoot },
    ...timeout,
    onProgress,
    ...signal,
    logger: jobLogger(job),
    ...(job.options.exec ? { exec: job.options.exec } : {}),
    ...(job.options.recipes ? { recipes: job.options.recipes } : {}),
    // The slap recipes talk to the master through the node's client (its access token stays in memory).
    slap: { master: job.options.master },
  });
}

async function readTemplate(software: string, url: string): Promise<string> {
  for (const name of ['instance.cfg', 'template.cfg']) {
    try {
      return await readFile(join(software, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new SlapError(
    'SLAP_ERR_SOFTWARE_NOT_INSTALLED',
    `software release ${url} is not correctly installed: ${join(software, 'instance.cfg')} is missing`,
    { hint: 'its profile must produce instance.cfg; rebuild it with slapos node software --force' },
  );
}

/** `<partition>/software_release` → the software directory (a real file or directory is left alone). */
async function linkSoftwareRelease(path: string, software: string, owner: PartitionOwner): Promise<void> {
  const link = join(path, 'software_release');
  const current = await lstat(link).catch(() => undefined);
  if (current && !current.isSymbolicLink()) return;
  if (current && (await readlink(link)) === software) return;
  if (current) await rm(link);
  await symlink(software, link);
  if (owner.switchUser) await chown(link, owner.uid, owner.gid).catch(() => undefined);
}

async function writeIfChanged(path: string, content: string, mode: number): Promise<void> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current !== content) await writeFile(path, content, { mode });
  await chmod(path, mode);
}

/**
 * Declares the partition's `etc/run` and `etc/service` executables to the supervisor (node.md §4.6).
 * Returns whether a program was added or changed (a changed one is restarted by the supervisor).
 */
export async function declarePrograms(job: PartitionJob): Promise<boolean> {
  const { path, owner, wanted } = job;
  const programs = partitionPrograms({
    group: wanted.partitionId,
    partitionPath: path,
    runFiles: await entries(join(path, 'etc', 'run')),
    serviceFiles: await entries(join(path, 'etc', 'service')),
    ...(owner.switchUser ? { uid: owner.uid, gid: owner.gid } : {}),
    user: owner.name,
    home: owner.home,
  });
  if (programs.length === 0)
    job.log.line(`No runners nor services found for partition ${wanted.partitionId}`);
  // The content of each executable is part of its program: a wrapper rewritten with other options
  // restarts its service (the original needs the wrapper recipe's hash-files for that).
  const revised = await Promise.all(
    programs.map(async (program) => ({
      ...program,
      env: { ...program.env, [PROGRAM_REVISION_VARIABLE]: await contentDigest(program.command) },
    })),
  );
  const change = await job.supervisor.updateGroup(wanted.partitionId, revised);
  for (const kind of ['added', 'changed', 'removed'] as const)
    if (change[kind].length > 0) job.log.line(`Supervisor: ${kind} ${change[kind].join(', ')}`);
  return change.added.length + change.changed.length > 0;
}

/** Set in each service's environment: a digest of its executable's content. */
export const PROGRAM_REVISION_VARIABLE = 'SLAPOS_PROGRAM_REVISION';

async function contentDigest(path: string): Promise<string> {
  const content = await readFile(path).catch(() => Buffer.alloc(0));
  return createHash('sha256').update(content).digest('hex').slice(0, 16);
}

async function entries(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory)).sort();
  } catch {
    return [];
  }
}

/**
 * Starts what is not running; a program that cannot start is an error naming it. Returns whether
 * anything was started (promises then get a grace period).
 */
export async function startPrograms(job: PartitionJob): Promise<boolean> {
  const results = await job.supervisor.startGroup(job.wanted.partitionId, { wait: true });
  const failed = results.filter((r): r is Extract<ActionResult, { ok: false }> => !r.ok);
  if (failed.length > 0)
    throw new SlapError(
      'SLAP_ERR_PROCESS_START_FAILED',
      failed.map((r) => `cannot start ${r.name}: ${r.error.message}`).join('\n'),
      { hint: `see its log: slapos node tail ${job.wanted.partitionId}:<name>` },
    );
  for (const r of results) job.log.line(`Started ${r.name}`);
  return results.length > 0;
}

export async function stopPrograms(job: PartitionJob): Promise<void> {
  try {
    const results = await job.supervisor.stopGroup(job.wanted.partitionId);
    for (const r of results)
      job.log.line(r.ok ? `Stopped ${r.name}` : `Could not stop ${r.name}: ${r.error.message}`);
  } catch (error) {
    if (!(error instanceof SlapError && error.code === 'SLAP_ERR_NO_SUCH_PROCESS')) throw error;
  }
}

/** How long the promises of just (re)started services are retried before they count (agent_promise_grace). */
export const DEFAULT_PROMISE_GRACE_MS = 10_000;

const RUNNING_STATES: ReadonlySet<ProcessState> = new Set(['STARTING', 'RUNNING', 'BACKOFF']);

/**
 * When the grace period of a partition's services ends (epoch ms): `graceMs` after the latest
 * (re)start of one of its programs still running — by a node pass, by the supervisor after a crash,
 * or by a person (`slapos node restart`); 0 when none started that recently. `status` is the
 * supervisor's listing (a pass asks for it once: see PassCache.supervisorStatus).
 */
export async function graceEndsAt(
  status: Promise<SupervisorStatus>,
  group: string,
  graceMs: number,
): Promise<number> {
  const { processes } = await status;
  const starts = processes
    .filter((p) => p.group === group && RUNNING_STATES.has(p.state) && p.startedAt !== null)
    .map((p) => p.startedAt as number);
  return starts.length === 0 ? 0 : Math.max(...starts) + graceMs;
}

/**
 * Test-mode promises after a deployment. While the partition's services are in their grace period
 * (just started by this pass, or restarted shortly before), failures are retried, and logged as
 * such (info), not as errors: a service still starting refuses connections.
 */
export async function checkPromises(job: PartitionJob, justStarted: boolean): Promise<PromiseReport> {
  const graceMs = job.options.promiseGraceMs ?? DEFAULT_PROMISE_GRACE_MS;
  const deadline = justStarted
    ? Date.now() + graceMs
    : graceMs > 0
      ? await graceEndsAt(job.supervisor.status(), job.wanted.partitionId, graceMs).catch(() => 0)
      : 0;
  for (let attempt = 0; ; attempt++) {
    const report = await runPromises(job.path, {
      mode: 'test',
      force: true,
      timeout: job.config.promiseTimeout,
      logger: jobLogger(job),
      now: () => (job.options.clock ?? systemClock).now() * 1000,
      retrying: Date.now() < deadline,
      ...(job.options.signal ? { signal: job.options.signal } : {}),
      ...(job.options.exec ? { exec: job.options.exec } : {}),
      ...(job.owner.switchUser ? { runAs: { uid: job.owner.uid, gid: job.owner.gid } } : {}),
    });
    if (report.ok || Date.now() >= deadline) {
      for (const result of report.results) {
        job.log.line(`Promise ${result.title}: ${result.failed ? 'FAILED' : 'OK'} ${result.message}`);
        job.options.onProgress?.({
          type: 'promise',
          partitionId: job.wanted.partitionId,
          title: result.title,
          failed: result.failed,
          message: result.message,
        });
      }
      return report;
    }
    await sleep(Math.min(promiseRetryDelayMs(attempt), Math.max(0, deadline - Date.now())), undefined, {
      ...(job.options.signal ? { signal: job.options.signal } : {}),
    });
  }
}

/**
 * Pause before trying failing promises again during the grace period: short at first (a service
 * usually listens within a few hundred milliseconds of its start), then every 500 ms.
 */
export function promiseRetryDelayMs(attempt: number): number {
  return Math.min(500, 50 * 2 ** attempt);
}

export class PromiseFailure extends SlapError {
  constructor(readonly report: PromiseReport) {
    super('SLAP_ERR_PROMISE_FAILED', promiseFailureMessage(report));
  }
}

/** Makes `.slapgrid/log` (the partition log's directory). */
export async function prepareSlapgridDirectory(path: string): Promise<void> {
  await mkdir(join(path, '.slapgrid', 'log'), { recursive: true });
}
