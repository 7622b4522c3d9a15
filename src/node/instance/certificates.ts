/**
 * A partition's certificate and key in the certificate repository (`<repo>/<partition>.crt|.key`,
 * mode 0600, owned by the partition user in system mode): the instance's own identity, with which
 * its recipes (slapconfiguration, publish, request) talk to the master. The node asks the master
 * for one only when the partition has none or less than a third of its validity remains (a master
 * in master mode issues a fresh key and certificate at each call and revokes the earlier ones);
 * removed when the partition is destroyed (node.md §4.3, §6.2).
 */
import { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists } from '../../lib/path-exists.ts';
import { checkIssuedCertificate, commonNameOf } from '../issued-certificate.ts';
import { completeKeyPairReplacement, pendingKeyPairFile, replaceKeyPair } from '../../lib/key-pair-files.ts';
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
 * The partition's certificate paths, after fetching a certificate when it has none or it is due for
 * renewal or names another instance; undefined when the master issues none (proxy mode answers empty strings): the profile
 * then gets empty key-file and cert-file, as without a repository.
 */
export async function updateCertificate(
  master: Pick<NodeMaster, 'getInstanceCertificate'>,
  input: {
    repository: string;
    partitionId: string;
    instanceGuid: string;
    owner: { uid: number; gid: number } | undefined;
    /** Float seconds. */
    now: number;
    signal?: AbortSignal;
  },
): Promise<CertificatePaths | undefined> {
  const paths = certificatePaths(input.repository, input.partitionId);
  // A crash between the two renames would leave the new key with the old certificate.
  await completeKeyPairReplacement(paths);
  if (await holdsValidCertificate(paths, input.instanceGuid, input.now)) return paths;
  const answer = await master.getInstanceCertificate(
    input.instanceGuid,
    input.signal ? { signal: input.signal } : {},
  );
  if (answer.certificate === '' || answer.key === '') return undefined;
  checkIssuedCertificate(answer.certificate, answer.key, input.instanceGuid);
  await replaceKeyPair(paths, { keyPem: answer.key, certificatePem: answer.certificate }, input.owner);
  return paths;
}

/**
 * A certificate for this instance (a takeover moves another instance into the partition: the one
 * left there is the previous instance's) that is not due for renewal.
 */
async function holdsValidCertificate(
  paths: CertificatePaths,
  instanceGuid: string,
  now: number,
): Promise<boolean> {
  const certificate = await readFile(paths.certFile, 'utf8').catch(() => undefined);
  if (certificate === undefined || !(await pathExists(paths.keyFile))) return false;
  // Loaded only for a partition that has a certificate (never in proxy mode): it brings the X.509 library.
  const { needsRenewal } = await import('../../lib/certificate-request.ts');
  try {
    if (commonNameOf(new X509Certificate(certificate)) !== instanceGuid) return false;
    return !needsRenewal(certificate, now);
  } catch {
    return false; // not a certificate (an interrupted write, a hand edit): fetch a new one
  }
}

export async function removeCertificate(repository: string, partitionId: string): Promise<void> {
  const paths = certificatePaths(repository, partitionId);
  // With what an interrupted replacement left pending.
  for (const file of [paths.keyFile, paths.certFile])
    for (const path of [file, pendingKeyPairFile(file)]) await rm(path, { force: true });
}
