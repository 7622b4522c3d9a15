/**
 * Puts restored files into a partition: restic restores a snapshot into a staging directory beside
 * the backups (never into the partition itself), then each declared path is swapped into place with
 * a rename (the previous copy moved aside), path by path. The previous copies are kept until the
 * caller commits (they are removed) or rolls back (they are put back): a restore whose check fails
 * can leave the partition as it was. A failure half-way puts back what was swapped. The partition's
 * own tree is writable by its user: every directory on the way to a path must be a real directory (a symbolic
 * link planted there would send the node's writes elsewhere), and restored files are given to the
 * partition's user when the node acts for it (their uid in the snapshot is the one of another node).
 */
import { randomBytes } from 'node:crypto';
import { cp, lchown, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { relativePathProblem } from '../../core/backup-declaration.ts';
import { SlapError } from '../../core/errors.ts';
import type { ResticDriver } from './agent.ts';
import type { ResticTarget } from './restic.ts';

export interface RestoreIntoPlaceInput {
  restic: Pick<ResticDriver, 'restore'>;
  target: ResticTarget;
  snapshotId: string;
  partitionRoot: string;
  /** A directory of the node's own (the backup directory's staging), on the partition's file system. */
  stagingParent: string;
  /** Partition-relative paths to put in place (those the snapshot lacks are left as they are). */
  paths: readonly string[];
  /** Chown what was restored to this user (the node runs as root for another user). */
  owner?: { uid: number; gid: number } | undefined;
}

/** The restored paths in place, their previous copies aside until `commit` or `rollback`. */
export interface Placement {
  /** The paths put in place (those the snapshot has). */
  placed: string[];
  /** Removes the previous copies. */
  commit: () => Promise<void>;
  /** Puts the previous copies back (a path that had none is removed). */
  rollback: () => Promise<void>;
}

/** A path swapped in: where, and where its previous copy is (none: it had none). */
interface Swap {
  destination: string;
  aside: string | undefined;
}

export async function restoreIntoPlace(input: RestoreIntoPlaceInput): Promise<Placement> {
  await mkdir(input.stagingParent, { recursive: true, mode: 0o700 });
  const staging = join(input.stagingParent, `restore-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { mode: 0o700 });
  const swaps: Swap[] = [];
  const placed: string[] = [];
  try {
    await input.restic.restore(input.target, input.snapshotId, staging);
    for (const path of input.paths) {
      const relative = checkRelative(path);
      const restored = join(staging, relative);
      if ((await lstat(restored).catch(() => undefined)) === undefined) continue;
      if (input.owner) await chownTree(restored, input.owner);
      swaps.push(await swapIntoPlace(input.partitionRoot, relative, restored, input.owner));
      placed.push(relative);
    }
  } catch (error) {
    await putBack(swaps);
    throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return {
    placed,
    commit: async () => {
      for (const swap of swaps) if (swap.aside) await rm(swap.aside, { recursive: true, force: true });
    },
    rollback: () => putBack(swaps),
  };
}

/** Undoes the swaps, last first. */
async function putBack(swaps: readonly Swap[]): Promise<void> {
  for (const swap of [...swaps].reverse()) {
    await rm(swap.destination, { recursive: true, force: true });
    if (swap.aside) await rename(swap.aside, swap.destination);
  }
}

/** The declaration's own rule (a plan is made of checked declarations: this only guards the writes). */
function checkRelative(path: string): string {
  const problem = relativePathProblem(path);
  if (problem !== undefined)
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `backup path ${JSON.stringify(path)} is not partition-relative: ${problem}`,
    );
  return path;
}

async function swapIntoPlace(
  root: string,
  relative: string,
  restored: string,
  owner: { uid: number; gid: number } | undefined,
): Promise<Swap> {
  const parts = relative.split(sep);
  let directory = root;
  for (const part of parts.slice(0, -1)) {
    directory = join(directory, part);
    const info = await lstat(directory).catch(() => undefined);
    if (info === undefined) {
      await mkdir(directory, { mode: 0o750 });
      if (owner) await lchown(directory, owner.uid, owner.gid);
    } else if (!info.isDirectory() || info.isSymbolicLink())
      throw new SlapError(
        'SLAP_ERR_PARTITION_INVALID',
        `cannot restore ${relative}: ${directory} is not a directory`,
      );
  }
  const destination = join(root, relative);
  const previous = await lstat(destination).catch(() => undefined);
  const aside = previous ? `${destination}.slapos-restore-${randomBytes(4).toString('hex')}` : undefined;
  if (aside) await rename(destination, aside);
  try {
    await moveAcross(restored, destination);
  } catch (error) {
    await rm(destination, { recursive: true, force: true }); // a copy interrupted half-way
    if (aside) await rename(aside, destination).catch(() => undefined);
    throw error;
  }
  return { destination, aside };
}

/** A rename, or a copy when the staging directory is on another file system. */
async function moveAcross(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await cp(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    await rm(from, { recursive: true, force: true });
  }
}

async function chownTree(path: string, owner: { uid: number; gid: number }): Promise<void> {
  await lchown(path, owner.uid, owner.gid);
  const info = await lstat(path);
  if (!info.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), owner);
}
