/**
 * Sealed usage journals for tests: a real certificate authority (master/ca) in a temporary directory,
 * node keys and certificates it issued, and journals sealed and chained the way a node sends them.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { fixedClock } from '../core/clock.ts';
import { sealUsageJournal, usageDocumentHash } from '../core/usage-signature.ts';
import type { CertificateAuthority } from '../master/ca/certificate-authority.ts';
import { openTestCertificateAuthority } from './master-mode-services.ts';

export interface TestCa {
  ca: CertificateAuthority;
  close: () => Promise<void>;
}

/** A CA in a temporary directory, its clock at `now` (seconds). */
export async function openTestCa(now = Date.UTC(2026, 0, 1) / 1000): Promise<TestCa> {
  return openTestCertificateAuthority(fixedClock(now));
}

export interface SigningNode {
  key: KeyObject;
  certificatePem: string;
}

export interface IssuedSigningNode extends SigningNode {
  serial: string;
  notAfter: number;
}

/** A key and a certificate the CA issued to compute node `id` (or to another kind of holder). */
export async function issueSigningNode(
  ca: CertificateAuthority,
  id: string,
  kind: 'compute_node' | 'user' | 'instance' = 'compute_node',
): Promise<IssuedSigningNode> {
  const issued = await ca.issueKeyAndCertificate({ kind, id, validityDays: 3650 });
  return {
    key: createPrivateKey(issued.keyPem),
    certificatePem: issued.certificatePem,
    serial: issued.serial,
    notAfter: issued.notAfter,
  };
}

/** One transaction of `[start, stop]` (seconds) with `movements` (partition, resource, quantity). */
export function journalXml(
  start: number,
  stop: number,
  movements: readonly { reference: string; resource: string; quantity: number | string }[],
): string {
  const date = (seconds: number): string =>
    new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
  const lines = movements.map(
    (m) =>
      `<movement><resource>${m.resource}</resource><reference>${m.reference}</reference>` +
      `<quantity>${m.quantity}</quantity></movement>`,
  );
  return (
    `<?xml version='1.0' encoding='utf-8'?>\n<journal><transaction>` +
    `<start_date>${date(start)}</start_date><stop_date>${date(stop)}</stop_date>\n` +
    `${lines.join('\n')}\n</transaction></journal>`
  );
}

/** Seals journals one after the other as a node does: sequences from `first`, each naming the one before. */
export function sealChain(
  signer: SigningNode,
  journals: readonly string[],
  options: { first?: number; previous?: string } = {},
): string[] {
  let previous = options.previous ?? '';
  let sequence = options.first ?? 1;
  return journals.map((xml) => {
    const sealed = sealUsageJournal(xml, {
      sequence: sequence++,
      previous,
      key: signer.key,
      certificatePem: signer.certificatePem,
    });
    previous = usageDocumentHash(sealed);
    return sealed;
  });
}
