/**
 * Destroying a partition's instance (node.md §6.2), shared by `node instance` (at once, for fast
 * convergence) and `node report` (as the original, for whatever is left): its supervisor group is
 * stopped and removed, every installed part uninstalled, `sbin/destroy` run if the profile left one,
 * the partition wiped (the directory, its mode, owner and `.slapos-resource` stay), then the master
 * is told, which frees the partition.
 */
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { cleanEnv, execFile } from '../../lib/exec.ts';
import { runNodeBuildout } from '../node-buildout.ts';
import { emptyDirectory } from '../remove-tree.ts';
import { removeCertificate } from './certificates.ts';
import { jobLogger, type PartitionJob } from './deploy.ts';
import { pathExists } from '../../lib/path-exists.ts';

/** Kept when a partition is wiped: format's description of the partition. */
export const KEPT_ON_WIPE = ['.slapos-resource'];

const DESTROY_HOOK_TIMEOUT_MS = 10 * 60_000;

export type DestroyOutcome = 'destroyed' | 'destroy-pending';

/**
 * Returns `destroy-pending` when the master keeps the partition for now ("Not destroying yet because
 * this partition has child partitions"): everything local is done, the report is retried next pass.
 */
export async function destroyPartition(job: PartitionJob): Promise<DestroyOutcome> {
  const { path, wanted, owner } = job;
  const logger = jobLogger(job);
  try {
    await job.supervisor.removeGroup(wanted.partitionId);
    job.log.line('Supervisor: removed the partition group');
  } catch (error) {
    if (!(error instanceof SlapError && error.code === 'SLAP_ERR_NO_SUCH_PROCESS')) throw error;
  }
  if (await pathExists(join(path, '.installed.cfg'))) {
    try {
      await runNodeBuildout({
        directory: path,
        configFile: join(path, 'buildout.cfg'),
        uninstallAll: true,
        ...(owner.switchUser
          ? { runAs: { uid: owner.uid, gid: owner.gid, instanceRoot: job.config.instanceRoot } }
          : {}),
        env: { HOME: path, SLAPGRID_INSTANCE_ROOT: job.config.instanceRoot },
        onProgress: (event) => job.log.event(event),
        ...(job.options.signal ? { signal: job.options.signal } : {}),
        logger,
        ...(job.options.exec ? { exec: job.options.exec } : {}),
        ...(job.options.recipes ? { recipes: job.options.recipes } : {}),
        slap: { master: job.options.master },
      });
    } catch (error) {
      // The wipe below removes the files anyway: a broken uninstall hook must not keep the
      // partition from ever being freed.
      job.log.line(`Warning: uninstalling the parts failed: ${(error as Error).message}`);
      logger.warn({ err: error }, 'uninstall failed before destruction; wiping anyway');
    }
  }
  const hook = join(path, 'sbin', 'destroy');
  if (await pathExists(hook)) {
    job.log.line(`Running ${hook}`);
    const exec = job.options.exec ?? execFile;
    const result = await exec(hook, [], {
      cwd: path,
      env: cleanEnv({ HOME: owner.home }),
      timeoutMs: DESTROY_HOOK_TIMEOUT_MS,
      ...(owner.switchUser ? { uid: owner.uid, gid: owner.gid } : {}),
      ...(job.options.signal ? { signal: job.options.signal } : {}),
      maxOutputBytes: 64 * 1024,
    });
    for (const line of `${result.stdout}${result.stderr}`.split('\n'))
      if (line) job.log.line(`destroy| ${line}`);
    if (result.exitCode !== 0)
      throw new SlapError(
        'SLAP_ERR_SYSTEM_COMMAND',
        `${hook} failed (${result.timedOut ? 'timed out' : `status ${result.exitCode ?? result.signal}`}): ${result.stderr.trim().split('\n').slice(-5).join('\n')}`,
        { hint: 'the partition is destroyed once the hook succeeds; it is retried at the next pass' },
      );
  }
  if (job.config.certificateRepositoryPath !== undefined)
    await removeCertificate(job.config.certificateRepositoryPath, wanted.partitionId);
  await job.log.close();
  await emptyDirectory(path, KEPT_ON_WIPE);
  logger.info('partition wiped');
  try {
    await job.options.master.reportInstanceState(
      { instanceGuid: wanted.instanceGuid, state: 'destroyed' },
      job.options.signal ? { signal: job.options.signal } : {},
    );
  } catch (error) {
    if (error instanceof SlapError && error.code === 'SLAP_ERR_HAS_CHILDREN') {
      logger.info({ reason: error.message }, 'the master keeps the partition for now');
      return 'destroy-pending';
    }
    throw error;
  }
  return 'destroyed';
}
