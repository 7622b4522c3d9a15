/**
 * Whether the master accepts a sealed usage journal (core/usage-signature.ts) from a compute node.
 *
 * - Always: the signature verifies with the certificate the journal embeds (else nothing is stored).
 * - Master mode, besides: that certificate is one this master's CA issued to this very compute node
 *   (signed by the CA, subject `CN=<node>, O=compute_node`, recorded under its serial with that
 *   subject) and not revoked. Its expiry is not checked: when the node signed is not known, and a
 *   journal sealed before its certificate expired may be sent again after (a lost journal must not
 *   block a node).
 * - Proxy mode has no CA: the signature is checked against the embedded certificate only, and the
 *   seal is stored as sent; whoever verifies an invoice judges the certificate (`--ca`).
 *
 * The chain (sequence, previous hash) is stored, never judged here: a break is the verifier's to
 * report, not a reason to refuse a journal.
 */
import { X509Certificate } from 'node:crypto';
import { SlapError } from '../../core/errors.ts';
import { verifyUsageSeal, type UsageSeal } from '../../core/usage-signature.ts';
import type { Repository } from '../storage/repository.ts';
import type { ServiceContext } from './context.ts';

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_USAGE_REPORT_INVALID', message);
}

/** Checks what needs no store: the signature. */
export function checkUsageSignature(seal: UsageSeal): void {
  if (!verifyUsageSeal(seal))
    throw invalid('The usage journal is sealed, but its signature does not verify with its certificate.');
}

/** Master mode: the sealing certificate is this node's, issued by this master and not revoked. */
export async function checkUsageSealCertificate(
  context: ServiceContext,
  repository: Repository,
  input: { computeNodeId: string; seal: UsageSeal },
): Promise<void> {
  if (context.mode !== 'master') return;
  const notIssued = () =>
    invalid(
      `The usage journal is not signed with a certificate this master issued to ${JSON.stringify(input.computeNodeId)}.`,
    );
  if (!context.ca) throw notIssued();
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(input.seal.certificatePem);
  } catch {
    throw notIssued();
  }
  const identity = context.ca.inspectPeer(certificate);
  if (identity?.kind !== 'compute_node' || identity.id !== input.computeNodeId) throw notIssued();
  const record = await repository.getCertificate(identity.serial);
  if (record?.kind !== 'compute_node' || record.subject !== input.computeNodeId) throw notIssued();
  if (record.revokedAt !== null)
    throw invalid('The certificate that signed the usage journal has been revoked.');
}
