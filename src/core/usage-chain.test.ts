import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { checkUsageChain, type ChainProblemKind } from './usage-chain.ts';
import {
  issueSigningNode,
  journalXml,
  openTestCa,
  sealChain,
  type SigningNode,
  type TestCa,
} from '../testing/sealed-journals.ts';

const HOUR = 3600;
const T0 = Date.UTC(2026, 10, 1) / 1000;

let testCa: TestCa;
let otherCa: TestCa;
let caCertificate: X509Certificate;
let node1: SigningNode;

before(async () => {
  testCa = await openTestCa();
  otherCa = await openTestCa();
  caCertificate = new X509Certificate(testCa.ca.caCertificatePem);
  node1 = await issueSigningNode(testCa.ca, 'COMP-1');
});
after(async () => {
  await testCa.close();
  await otherCa.close();
});

function hourly(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    journalXml(T0 + i * HOUR, T0 + (i + 1) * HOUR, [
      { reference: 'slappart0', resource: 'service_module/cpu_time', quantity: 10 + i },
    ]),
  );
}

function check(documents: readonly string[], node = 'COMP-1') {
  return checkUsageChain(
    node,
    documents.map((document) => ({ computeNodeId: node, document })),
    { ca: caCertificate },
  );
}

function kinds(documents: readonly string[], node?: string): [ChainProblemKind, number | null][] {
  return check(documents, node).problems.map((p) => [p.kind, p.sequence]);
}

test('an intact chain, in any order, is trusted whole in sequence order', () => {
  const chain = sealChain(node1, hourly(5));
  const result = check([...chain].reverse());
  assert.deepEqual(result.problems, []);
  assert.deepEqual(
    result.trusted.map((j) => j.sequence),
    [1, 2, 3, 4, 5],
  );
  // The anchor of a chain that starts later (the journal before the period) needs nothing before it.
  assert.deepEqual(check(chain.slice(2)).problems, []);
});

test('a journal edited after signing is reported altered (not missing, not breaking the link after it), and not trusted', () => {
  const chain = sealChain(node1, hourly(3));
  const edited = chain.map((d, i) =>
    i === 1 ? d.replace('<quantity>11</quantity>', '<quantity>99</quantity>') : d,
  );
  const result = check(edited);
  assert.deepEqual(
    result.problems.map((p) => [p.kind, p.sequence]),
    [['journal_altered', 2]],
  );
  assert.deepEqual(
    result.trusted.map((j) => j.sequence),
    [1, 3],
  );
});

test('a journal deleted from the chain is reported missing, each one of a gap', () => {
  const chain = sealChain(node1, hourly(6));
  assert.deepEqual(kinds([chain[0], chain[1], chain[4], chain[5]] as string[]), [
    ['journal_missing', 3],
    ['journal_missing', 4],
  ]);
});

test('a journal that does not name the one before it is out of chain; two journals of one sequence are a fork', () => {
  const chain = sealChain(node1, hourly(3));
  const [first, , third] = chain as [string, string, string];
  // A second journal 2 sealed on a different predecessor.
  const [stray] = sealChain(node1, hourly(1), { first: 2, previous: 'ab'.repeat(32) }) as [string];
  assert.deepEqual(kinds([first, stray]), [['journal_out_of_chain', 2]]);
  assert.deepEqual(kinds(chain.concat([stray])), [['journal_forked', 2]]);
  // The same document twice is no fork.
  assert.deepEqual(kinds([first, third, third, chain[1] as string]), []);
  const [falseFirst] = sealChain(node1, hourly(1), { previous: 'cd'.repeat(32) }) as [string];
  assert.deepEqual(kinds([falseFirst]), [['journal_out_of_chain', 1]]);
});

test('a signature from a key the CA did not certify for this node is reported as such', async () => {
  const chain = sealChain(node1, hourly(2));
  // Another CA's certificate for COMP-1.
  const impostor = await issueSigningNode(otherCa.ca, 'COMP-1');
  const [forged] = sealChain(impostor, hourly(1), { first: 3, previous: '' }) as [string];
  assert.deepEqual(kinds([...chain, forged]), [['journal_untrusted_certificate', 3]]);
  // This CA's certificate of another node, and of a user.
  const node2 = await issueSigningNode(testCa.ca, 'COMP-2');
  const [byNode2] = sealChain(node2, hourly(1)) as [string];
  assert.deepEqual(kinds([byNode2]), [['journal_wrong_node', 1]]);
  const user = await issueSigningNode(testCa.ca, 'COMP-1', 'user');
  const [byUser] = sealChain(user, hourly(1)) as [string];
  assert.deepEqual(kinds([byUser]), [['journal_wrong_node', 1]]);
  // The node's own certificate with a signature by another key: the signature does not verify.
  const [signedElsewhere] = sealChain({ key: impostor.key, certificatePem: node1.certificatePem }, hourly(1));
  assert.deepEqual(kinds([signedElsewhere as string]), [['journal_altered', 1]]);
});

test('unsigned and unreadable journals are reported and not trusted', () => {
  const [unsigned] = hourly(1) as [string];
  const [sealed] = sealChain(node1, hourly(1)) as [string];
  const unreadable = sealed.replace('<?slapos-usage-chain', '<?slapos-usage-chain-broken');
  const result = check([unsigned, unreadable]);
  assert.deepEqual(
    result.problems.map((p) => [p.kind, p.sequence]),
    [
      ['journal_unsigned', null],
      ['journal_unreadable', null],
    ],
  );
  assert.deepEqual(result.trusted, []);
});

test('a long gap is one problem naming its range', () => {
  const [first] = sealChain(node1, hourly(1)) as [string];
  const [far] = sealChain(node1, hourly(1), { first: 500, previous: 'ab'.repeat(32) }) as [string];
  const result = check([first, far]);
  assert.equal(result.problems.length, 1);
  assert.equal(result.problems[0]?.kind, 'journal_missing');
  assert.match(result.problems[0]?.message ?? '', /journals 2 to 499 of COMP-1 are missing/);
});

test("with the node's own certificate given, a journal signed by another certificate the CA issued for the node is not trusted", async () => {
  // What a master holding the CA could do: issue itself another certificate for COMP-1.
  const minted = await issueSigningNode(testCa.ca, 'COMP-1');
  const [honest, forged] = [sealChain(node1, hourly(1))[0], sealChain(minted, hourly(1))[0]] as [
    string,
    string,
  ];
  const pinned = (documents: string[], certificates: string[]) =>
    checkUsageChain(
      'COMP-1',
      documents.map((document) => ({ computeNodeId: 'COMP-1', document })),
      { ca: caCertificate, nodeCertificates: certificates.map((pem) => new X509Certificate(pem)) },
    ).problems.map((p) => p.kind);
  assert.deepEqual(pinned([forged], []), []);
  assert.deepEqual(pinned([honest], [node1.certificatePem]), []);
  assert.deepEqual(pinned([forged], [node1.certificatePem]), ['journal_untrusted_certificate']);
  // A certificate given for another node does not constrain this one.
  const node2 = await issueSigningNode(testCa.ca, 'COMP-2');
  assert.deepEqual(pinned([forged], [node2.certificatePem]), []);
});
