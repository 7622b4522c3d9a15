/**
 * The master keeps of each certificate it issues only its serial, kind, subject and end of validity
 * (never a key): the record the authenticator checks a client certificate against.
 */
import type { IssuedCertificate } from '../ca/certificate-authority.ts';
import type { CertificateKind } from '../storage/identity-repository.ts';
import type { Repository } from '../storage/repository.ts';

export function recordIssuedCertificate(
  repository: Repository,
  issued: IssuedCertificate,
  holder: { kind: CertificateKind; subject: string; now: number },
): Promise<void> {
  return repository.insertCertificate({
    serial: issued.serial,
    kind: holder.kind,
    subject: holder.subject,
    notAfter: issued.notAfter,
    revokedAt: null,
    createdAt: holder.now,
  });
}
