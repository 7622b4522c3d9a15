/**
 * A partition's certificate and key in the certificate repository (`<repo>/<partition>.crt|.key`,
 * mode 0400, owned by the partition user): fetched from the master at each processing, written only
 * when they changed, removed when the partition is destroyed (node.md §4.3, §6.2).
 */
import { chown, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import type { NodeMaster } from '../pass.ts';

export interface CertificatePaths {
  keyFile: string;
  certFile: string;
}

export function certificatePaths(repository: string, partitionId: string): CertificatePaths {
  return {
    keyFile: join(repository, `${partitionId}.key`),
    certFile: join(repository, `${partitionId}.crt`),
  };
}

/**
 * Fetches the instance's certificate and writes it if it changed. Returns the paths, or undefined
 * when the master issues none (proxy mode answers empty strings): the profile then gets empty
 * key-file and cert-file, as without a repository.
 */
export async function updateCertificate(
  master: NodeMaster,
  input: {
    repository: string;
    partitionId: string;
    instanceGuid: string;
    owner: { uid: number; gid: number } | undefined;
    signal?: AbortSignal;
  },
): Promise<CertificatePaths | undefined> {
  const answer = await master.getInstanceCertificate(
    input.instanceGuid,
    input.signal ? { signal: input.signal } : {},
  );
  if (answer.certificate === '' || answer.key === '') return undefined;
  const paths = certificatePaths(input.repository, input.partitionId);
  for (const [path, content] of [
    [paths.certFile, answer.certificate],
    [paths.keyFile, answer.key],
  ] as const) {
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current === content) continue;
    await writeFileAtomic(path, content, { mode: 0o400 });
    if (input.owner) await chown(path, input.owner.uid, input.owner.gid);
  }
  return paths;
}

export async function removeCertificate(repository: string, partitionId: string): Promise<void> {
  const paths = certificatePaths(repository, partitionId);
  await rm(paths.keyFile, { force: true });
  await rm(paths.certFile, { force: true });
}
