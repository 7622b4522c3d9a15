/**
 * Checks a compute node's sealed usage journals (usage-signature.ts) as a user can, trusting only the
 * master's CA certificate: each journal's signature verifies with the certificate it carries, that
 * certificate was issued by the CA to this compute node (subject `CN=<node>, O=compute_node`), and
 * the journals form one chain (sequences one apart, each naming the hash of the one before). What
 * does not hold is reported per journal; the journals that hold are the ones a recomputation trusts.
 */
import { X509Certificate } from 'node:crypto';
import { readUsageSeal, usageDocumentHash, verifyUsageSeal, type UsageSeal } from './usage-signature.ts';

/** A journal as the master stored it: the node it says sent it, and the document as received. */
export interface StoredJournal {
  computeNodeId: string;
  document: string;
}

export type ChainProblemKind =
  /** Sent without a seal: nothing proves the node sent it. */
  | 'journal_unsigned'
  /** The seal instructions are malformed. */
  | 'journal_unreadable'
  /** The signature does not verify with the journal's certificate: the document changed after signing. */
  | 'journal_altered'
  /** The certificate was not issued by the CA (or is not a certificate). */
  | 'journal_untrusted_certificate'
  /** The certificate was issued by the CA to someone other than this compute node. */
  | 'journal_wrong_node'
  /** A sequence number of the node's chain has no journal in the evidence. */
  | 'journal_missing'
  /** The journal does not name the hash of the node's journal before it. */
  | 'journal_out_of_chain'
  /** Two different journals carry the same sequence number. */
  | 'journal_forked';

export interface ChainProblem {
  kind: ChainProblemKind;
  computeNodeId: string;
  /** The journal's sequence number when it has a readable seal (or the missing number), else null. */
  sequence: number | null;
  /** The document's SHA-256 (hex); null for a missing journal. */
  documentHash: string | null;
  message: string;
}

/** A journal whose seal verified, its certificate issued by the CA to its node. */
export interface TrustedJournal {
  computeNodeId: string;
  sequence: number;
  documentHash: string;
  document: string;
}

export interface ChainCheck {
  /** In sequence order. */
  trusted: TrustedJournal[];
  problems: ChainProblem[];
}

const COMPUTE_NODE_KIND = 'compute_node';

/** The node a certificate names when its subject is exactly `CN=<id>, O=compute_node`. */
function certifiedNode(certificate: X509Certificate): string | undefined {
  const parts = certificate.subject.split('\n');
  if (parts.length !== 2 || parts[1] !== `O=${COMPUTE_NODE_KIND}`) return undefined;
  const id = /^CN=([A-Za-z0-9][A-Za-z0-9._-]{0,63})$/.exec(parts[0] ?? '')?.[1];
  return id;
}

function issuedBy(certificate: X509Certificate, ca: X509Certificate): boolean {
  try {
    return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
  } catch {
    return false;
  }
}

interface Sealed {
  seal: UsageSeal;
  documentHash: string;
  document: string;
}

function problem(
  kind: ChainProblemKind,
  computeNodeId: string,
  sequence: number | null,
  documentHash: string | null,
  message: string,
): ChainProblem {
  return { kind, computeNodeId, sequence, documentHash, message };
}

export interface ChainTrust {
  /** The CA that must have issued every node certificate. */
  ca: X509Certificate;
  /**
   * Node certificates the user holds (from the nodes' owners): a node named by one of them must
   * have signed with one of them (the master's CA could issue another for it), others with any the
   * CA issued.
   */
  nodeCertificates?: readonly X509Certificate[];
}

/** The seal of a journal when it is authentic (signed by the CA's certificate of its node), else its problem. */
function authenticate(journal: StoredJournal, trust: ChainTrust): Sealed | ChainProblem {
  const node = journal.computeNodeId;
  const documentHash = usageDocumentHash(journal.document);
  const at = `the journal ${documentHash.slice(0, 12)} of ${node}`;
  let seal: UsageSeal | undefined;
  try {
    seal = readUsageSeal(journal.document);
  } catch (error) {
    return problem('journal_unreadable', node, null, documentHash, `${at}: ${(error as Error).message}`);
  }
  if (seal === undefined)
    return problem('journal_unsigned', node, null, documentHash, `${at} is not signed by the node`);
  const where = `journal ${seal.sequence} of ${node}`;
  if (!verifyUsageSeal(seal))
    return problem(
      'journal_altered',
      node,
      seal.sequence,
      documentHash,
      `${where}: the signature does not match the document (altered after the node signed it)`,
    );
  const certificate = new X509Certificate(seal.certificatePem);
  if (!issuedBy(certificate, trust.ca))
    return problem(
      'journal_untrusted_certificate',
      node,
      seal.sequence,
      documentHash,
      `${where}: signed with a certificate the CA did not issue`,
    );
  const signer = certifiedNode(certificate);
  if (signer !== node)
    return problem(
      'journal_wrong_node',
      node,
      seal.sequence,
      documentHash,
      `${where}: signed with the certificate of ${signer === undefined ? 'something else than a compute node' : signer}`,
    );
  const pinned = (trust.nodeCertificates ?? []).filter((c) => certifiedNode(c) === node);
  if (pinned.length > 0 && !pinned.some((c) => c.raw.equals(certificate.raw)))
    return problem(
      'journal_untrusted_certificate',
      node,
      seal.sequence,
      documentHash,
      `${where}: signed with a certificate of ${node} that is not one of those given for it`,
    );
  return { seal, documentHash, document: journal.document };
}

/** Longest gap reported journal by journal (a longer one is one problem naming its range). */
const MAX_MISSING_LISTED = 100;

function missingJournals(
  computeNodeId: string,
  from: number,
  to: number,
  present: ReadonlySet<number>,
): ChainProblem[] {
  if (to - from + 1 > MAX_MISSING_LISTED)
    return [
      problem(
        'journal_missing',
        computeNodeId,
        from,
        null,
        `journals ${from} to ${to} of ${computeNodeId} are missing from the chain`,
      ),
    ];
  const missing: ChainProblem[] = [];
  for (let sequence = from; sequence <= to; sequence++)
    if (!present.has(sequence))
      missing.push(
        problem(
          'journal_missing',
          computeNodeId,
          sequence,
          null,
          `journal ${sequence} of ${computeNodeId} is missing from the chain`,
        ),
      );
  return missing;
}

/**
 * Checks the journals of ONE compute node (in any order). Authentic journals are trusted even when
 * out of chain (the node signed them; the break is reported); the chain's first journal in the
 * evidence is its anchor: whether it is the one it should be is the caller's question.
 */
export function checkUsageChain(
  computeNodeId: string,
  journals: readonly StoredJournal[],
  options: ChainTrust,
): ChainCheck {
  const problems: ChainProblem[] = [];
  const bySequence = new Map<number, Sealed>();
  /** Sequences of journals there but not authentic: reported as such, not as missing. */
  const untrusted = new Set<number>();
  for (const journal of journals) {
    const checked = authenticate({ computeNodeId, document: journal.document }, options);
    if ('kind' in checked) {
      problems.push(checked);
      if (checked.sequence !== null) untrusted.add(checked.sequence);
      continue;
    }
    const { sequence } = checked.seal;
    const other = bySequence.get(sequence);
    if (other === undefined) bySequence.set(sequence, checked);
    else if (other.documentHash !== checked.documentHash)
      problems.push(
        problem(
          'journal_forked',
          computeNodeId,
          sequence,
          checked.documentHash,
          `journal ${sequence} of ${computeNodeId}: two different journals carry this sequence number`,
        ),
      );
  }
  const trusted: TrustedJournal[] = [];
  let before: Sealed | undefined;
  for (const sequence of [...bySequence.keys()].sort((a, b) => a - b)) {
    const journal = bySequence.get(sequence) as Sealed;
    if (before !== undefined && sequence > before.seal.sequence + 1)
      problems.push(...missingJournals(computeNodeId, before.seal.sequence + 1, sequence - 1, untrusted));
    const expected = before?.seal.sequence === sequence - 1 ? before.documentHash : undefined;
    const brokenLink =
      expected !== undefined
        ? journal.seal.previous !== expected
        : sequence === 1 && journal.seal.previous !== '';
    if (brokenLink)
      problems.push(
        problem(
          'journal_out_of_chain',
          computeNodeId,
          sequence,
          journal.documentHash,
          sequence === 1
            ? `journal 1 of ${computeNodeId} names a journal before it`
            : `journal ${sequence} of ${computeNodeId} does not follow journal ${sequence - 1} (the hash it names differs)`,
        ),
      );
    trusted.push({ computeNodeId, sequence, documentHash: journal.documentHash, document: journal.document });
    before = journal;
  }
  return { trusted, problems };
}
