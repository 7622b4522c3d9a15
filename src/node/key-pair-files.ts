/**
 * A private key and its certificate in two files, replaced together: both new files are written
 * beside the old ones (`<file>.new`, 0600, synced) before either is renamed into place, key first.
 * A crash between the two renames leaves `<cert>.new`; `completeKeyPairReplacement` (called before
 * the files are read) finishes the job, so the key and the certificate always end up matching.
 */
import { chown, rename, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { pathExists } from '../lib/path-exists.ts';

export interface KeyPairFiles {
  keyFile: string;
  certFile: string;
}

const pending = (file: string): string => `${file}.new`;

export async function replaceKeyPair(
  files: KeyPairFiles,
  material: { keyPem: string; certificatePem: string },
  /** Owner of both files (system mode: the partition's user). */
  owner?: { uid: number; gid: number },
): Promise<void> {
  // A leftover of an interrupted earlier replacement must not be mistaken for this one's.
  await rm(pending(files.certFile), { force: true });
  for (const [file, content] of [
    [files.keyFile, material.keyPem],
    [files.certFile, material.certificatePem],
  ] as const) {
    await writeFileAtomic(pending(file), content, { mode: 0o600 });
    if (owner) await chown(pending(file), owner.uid, owner.gid);
  }
  await completeKeyPairReplacement(files);
}

/**
 * Finishes a replacement that a crash interrupted; does nothing when none is pending. Another
 * process may be finishing the same one (a node command starting while the agent renews): a pending
 * file already moved is not an error.
 */
export async function completeKeyPairReplacement(files: KeyPairFiles): Promise<void> {
  // The certificate's pending file is written last: while it is absent, nothing was committed (a
  // lone pending key is left to the next replacement, which writes it again).
  if (!(await pathExists(pending(files.certFile)))) return;
  await renameIfPresent(pending(files.keyFile), files.keyFile);
  await renameIfPresent(pending(files.certFile), files.certFile);
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
