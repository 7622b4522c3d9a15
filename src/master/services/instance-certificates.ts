/**
 * An instance's key and certificate (v0 `software_instance_certificate`). In master mode each call
 * issues a fresh key and certificate (`CN=SOFTINST-<id>, O=instance`, 365 days) and revokes the
 * instance's earlier ones; the master hands the key over and keeps only the certificate's serial.
 * The instance's compute node asks when the partition has none or it is due for renewal; the
 * instance itself may ask too. Proxy mode answers slapproxy's empty pair (compute-nodes.ts).
 */
import { audit } from './audit.ts';
import type { Caller } from './caller.ts';
import { instanceCertificate as proxyInstanceCertificate, type CertificatePair } from './compute-nodes.ts';
import type { ServiceContext } from './context.ts';
import { masterNaming } from './instance-naming.ts';
import { requireCertificateAuthority } from './node-registration.ts';
import { instanceNotFound } from './not-found.ts';

export const INSTANCE_CERTIFICATE_DAYS = 365;

export async function instanceCertificate(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<CertificatePair> {
  if (context.mode !== 'master') return proxyInstanceCertificate(context, input);
  const ca = requireCertificateAuthority(context, 'instance certificates');
  const { caller, instanceGuid } = input;
  const now = context.clock.now();
  const subject = await context.store.read(async (repository) => {
    const instance = await context.naming.find(repository, instanceGuid);
    if (!instance?.location || instance.requestedState === 'destroyed') throw instanceNotFound(instanceGuid);
    // Its compute node or the instance itself; anyone else gets the same not-found.
    await context.authorize(
      caller,
      'instance.certificate',
      { kind: 'instance', record: instance, guid: instanceGuid },
      repository,
    );
    return masterNaming.guidOf(instance);
  });
  // Made outside any transaction, so that the store serves the other requests meanwhile.
  const certificate = await ca.issueKeyAndCertificate({
    kind: 'instance',
    id: subject,
    validityDays: INSTANCE_CERTIFICATE_DAYS,
  });
  const revoked = await context.store.write(async (repository) => {
    const revokedCount = await repository.revokeCertificates({ kind: 'instance', subject, now });
    await repository.insertCertificate({
      serial: certificate.serial,
      kind: 'instance',
      subject,
      notAfter: certificate.notAfter,
      revokedAt: null,
      createdAt: now,
    });
    return revokedCount;
  });
  const issued = { ...certificate, revoked };
  audit(context.logger, 'instance.certificate_issued', {
    instance: instanceGuid,
    by: caller.kind,
    serial: issued.serial,
    revoked: issued.revoked,
  });
  return { key: issued.keyPem, certificate: issued.certificatePem };
}
