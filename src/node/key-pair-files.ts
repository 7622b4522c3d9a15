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

/** Finishes a replacement that a crash interrupted; does nothing when none is pending. */
export async function completeKeyPairReplacement(files: KeyPairFiles): Promise<void> {
  // The certificate's pending file is written last: while it is absent, nothing was committed.
  if (!(await pathExists(pending(files.certFile)))) {
    await rm(pending(files.keyFile), { force: true });
    return;
  }
  if (await pathExists(pending(files.keyFile))) await rename(pending(files.keyFile), files.keyFile);
  await rename(pending(files.certFile), files.certFile);
}
