import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  verifyInvoiceEvidence,
  type EvidenceAllocation,
  type EvidenceJournal,
  type EvidencePriceList,
  type InvoiceEvidence,
  type VerificationProblemKind,
} from './invoice-verification.ts';
import type { InvoiceDocument, InvoiceLine } from './invoice-types.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import {
  issueSigningNode,
  journalXml,
  openTestCa,
  sealChain,
  type SigningNode,
  type TestCa,
} from '../testing/sealed-journals.ts';

const at = (month: number, day: number, hour: number, minute = 0): number =>
  Date.UTC(2026, month - 1, day, hour, minute) / 1000;
const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';

let testCa: TestCa;
let otherCa: TestCa;
let comp1: SigningNode;

before(async () => {
  testCa = await openTestCa();
  otherCa = await openTestCa();
  comp1 = await issueSigningNode(testCa.ca, 'COMP-1');
});
after(async () => {
  await testCa.close();
  await otherCa.close();
});

/**
 * November 2026 on COMP-1: alice's tree `web` holds slappart0 all month; slappart1 is another
 * user's (#1) until the 15th at noon, then alice's tree `db`.
 */
const ALLOCATIONS: EvidenceAllocation[] = [
  {
    computer_guid: 'COMP-1',
    partition_id: 'slappart0',
    owner: 'alice',
    instance_tree: 'web',
    instance_id: 1,
    allocated_at: at(11, 1, 0),
    released_at: null,
  },
  {
    computer_guid: 'COMP-1',
    partition_id: 'slappart1',
    owner: '#1',
    instance_tree: '#1',
    instance_id: 2,
    allocated_at: at(10, 20, 0),
    released_at: at(11, 15, 12),
  },
  {
    computer_guid: 'COMP-1',
    partition_id: 'slappart1',
    owner: 'alice',
    instance_tree: 'db',
    instance_id: 3,
    allocated_at: at(11, 15, 12),
    released_at: null,
  },
];

/** The journals COMP-1 sent, in order (the first one, before the period, is the chain's anchor). */
function journals(): string[] {
  return [
    journalXml(at(10, 31, 23), at(11, 1, 0), [{ reference: 'slappart1', resource: CPU, quantity: 100 }]),
    // The same key twice in one journal: summed, as the master stores it.
    journalXml(at(11, 1, 0), at(11, 1, 1), [
      { reference: 'slappart0', resource: CPU, quantity: 1800 },
      { reference: 'slappart0', resource: CPU, quantity: 1800 },
      { reference: 'slappart0', resource: MEMORY, quantity: 512 },
      { reference: 'slappart1', resource: CPU, quantity: 1000 },
      { reference: 'COMP-1', resource: CPU, quantity: 5000 },
    ]),
    // Across the change of holder: 1 h for #1 (600 s), 30 min for alice (300 s).
    journalXml(at(11, 15, 11), at(11, 15, 12, 30), [
      { reference: 'slappart1', resource: CPU, quantity: 900 },
    ]),
    // Across the month's end: 1 h of 1024 MB in November, 1 h in December.
    journalXml(at(11, 30, 23), at(12, 1, 1), [{ reference: 'slappart0', resource: MEMORY, quantity: 1024 }]),
    // The interval of journal 2 sent again: counted once.
    journalXml(at(11, 1, 0), at(11, 1, 1), [{ reference: 'slappart0', resource: CPU, quantity: 3600 }]),
  ];
}

/** Computed by hand: prices 0.0001/s of CPU, 0.001/MB-hour, a fee of 10 a month. */
const LINES: InvoiceLine[] = [
  { instance_tree: 'db', resource: CPU, quantity: '300', unit_price: '0.0001', amount: '0.03' },
  {
    instance_tree: 'db',
    resource: 'instance_tree_monthly_fee',
    quantity: '16',
    unit_price: '10',
    amount: '5.333333',
  },
  { instance_tree: 'web', resource: CPU, quantity: '3600', unit_price: '0.0001', amount: '0.36' },
  { instance_tree: 'web', resource: MEMORY, quantity: '1536', unit_price: '0.001', amount: '1.536' },
  {
    instance_tree: 'web',
    resource: 'instance_tree_monthly_fee',
    quantity: '30',
    unit_price: '10',
    amount: '10',
  },
];

function invoice(lines: InvoiceLine[] = LINES, total = '17.26'): InvoiceDocument {
  return {
    id: 'INV-202611-000001',
    kind: 'invoice',
    user: 'alice',
    period: '2026-11',
    currency: 'EUR',
    lines,
    total,
    state: 'issued',
    corrects: null,
    issued_at: '2026-12-01T00:00:00.000Z',
    paid_at: null,
  };
}

function evidence(overrides: Partial<InvoiceEvidence> = {}): InvoiceEvidence {
  return {
    invoice: invoice(),
    price_list_list: [
      {
        currency: 'EUR',
        effective: '2026-01-01',
        resources: { [CPU]: '0.0001', [MEMORY]: '0.001' },
        instance_tree_monthly_fee: '10',
      },
    ],
    allocation_list: ALLOCATIONS,
    journal_list: sealChain(comp1, journals()).map((document) => ({ computer_guid: 'COMP-1', document })),
    ca_certificate: testCa.ca.caCertificatePem,
    ...overrides,
  };
}

function problemKinds(
  input: InvoiceEvidence,
  ca?: string,
): [VerificationProblemKind, string | number | null][] {
  return verifyInvoiceEvidence(input, { caCertificatePem: ca ?? testCa.ca.caCertificatePem }).problems.map(
    (p) => [p.kind, p.sequence ?? p.resource ?? null],
  );
}

test('an invoice computed by hand verifies against the signed journals', () => {
  const result = verifyInvoiceEvidence(evidence(), { caCertificatePem: testCa.ca.caCertificatePem });
  assert.deepEqual(result.problems, []);
  assert.equal(result.verified, true);
  assert.equal(result.ca, 'given');
  assert.deepEqual(result.journals, { total: 5, trusted: 5 });
  assert.deepEqual(result.recomputed, { currency: 'EUR', lines: LINES, total: '17.26' });
  // Without a CA of one's own, the master's is used, and the report says so.
  assert.equal(verifyInvoiceEvidence(evidence()).ca, 'master');
});

test('a journal edited in the store is reported altered, and the lines it changed differ', () => {
  const input = evidence();
  const edited = input.journal_list.map((j, i) =>
    i === 1
      ? { ...j, document: j.document.replace('<quantity>512</quantity>', '<quantity>5120</quantity>') }
      : j,
  );
  assert.deepEqual(problemKinds({ ...input, journal_list: edited }), [
    ['journal_altered', 2],
    // Journal 5 repeats journal 2's CPU interval: without journal 2 it counts; the memory is gone.
    ['line_differs', MEMORY],
    ['total_differs', null],
  ]);
});

test('an invoice line or total changed at the master is reported line by line', () => {
  const inflated = LINES.map((line) =>
    line.instance_tree === 'web' && line.resource === CPU
      ? { ...line, quantity: '3700', amount: '0.37' }
      : line,
  );
  const result = verifyInvoiceEvidence(evidence({ invoice: invoice(inflated, '17.27') }), {
    caCertificatePem: testCa.ca.caCertificatePem,
  });
  assert.deepEqual(
    result.problems.map((p) => [p.kind, p.instance_tree, p.resource]),
    [
      ['line_differs', 'web', CPU],
      ['total_differs', undefined, undefined],
    ],
  );
  assert.deepEqual(result.problems[0]?.invoiced, inflated[2]);
  assert.deepEqual(result.problems[0]?.recomputed, LINES[2]);
  // A line billed that nothing signed, and one missing.
  const extra = [...LINES, { ...(LINES[0] as InvoiceLine), instance_tree: 'zzz' }];
  assert.deepEqual(problemKinds(evidence({ invoice: invoice(extra, '17.29') })), [
    ['line_differs', CPU],
    ['total_differs', null],
  ]);
  assert.deepEqual(problemKinds(evidence({ invoice: invoice(LINES.slice(1), '17.23') })), [
    ['line_differs', CPU],
    ['total_differs', null],
  ]);
});

test('a journal deleted from the chain is reported missing, and so is the anchor before the period', () => {
  const input = evidence();
  const withoutThird = input.journal_list.filter((_, i) => i !== 2);
  assert.deepEqual(problemKinds({ ...input, journal_list: withoutThird }), [
    ['journal_missing', 3],
    ['line_differs', CPU],
    ['total_differs', null],
  ]);
  assert.deepEqual(problemKinds({ ...input, journal_list: input.journal_list.slice(1) }), [
    ['journal_missing', 1],
  ]);
});

test('a journal signed with another key, unsigned, or with a foreign certificate is not trusted', async () => {
  const input = evidence();
  const impostor = await issueSigningNode(otherCa.ca, 'COMP-1');
  const [forged] = sealChain(impostor, [journals()[3] as string], { first: 4 }) as [string];
  const replaced = input.journal_list.map((j, i) => (i === 3 ? { ...j, document: forged } : j));
  assert.deepEqual(problemKinds({ ...input, journal_list: replaced }), [
    ['journal_untrusted_certificate', 4],
    ['line_differs', MEMORY],
    ['total_differs', null],
  ]);
  // Checked against another CA, nothing is trusted.
  const kinds = problemKinds(input, otherCa.ca.caCertificatePem).map(([kind]) => kind);
  assert.deepEqual(kinds.slice(0, 5), Array(5).fill('journal_untrusted_certificate'));
  const unsigned = input.journal_list.map((j, i) =>
    i === 2 ? { ...j, document: journals()[2] as string } : j,
  );
  assert.deepEqual(problemKinds({ ...input, journal_list: unsigned }), [
    ['journal_unsigned', null],
    ['journal_missing', 3],
    ['line_differs', CPU],
    ['total_differs', null],
  ]);
});

test('bad evidence is a problem reported, never a throw', () => {
  const noCa = verifyInvoiceEvidence(evidence({ ca_certificate: null }));
  assert.deepEqual(
    noCa.problems.map((p) => p.kind),
    ['evidence_invalid'],
  );
  assert.equal(noCa.verified, false);
  assert.deepEqual(problemKinds(evidence(), 'not a certificate'), [['evidence_invalid', null]]);
  const badList = evidence({
    price_list_list: [
      { currency: 'eur', effective: '2026-01-01', resources: {}, instance_tree_monthly_fee: '0' },
    ],
  });
  assert.deepEqual(problemKinds(badList), [['evidence_invalid', null]]);
  const creditNote = evidence({
    invoice: { ...invoice(), kind: 'credit_note', corrects: 'INV-202611-000001' },
  });
  assert.deepEqual(problemKinds(creditNote), [['not_an_invoice', null]]);
});

test('hostile evidence (any text in a journal, an allocation, a price list or a line) is reported, never thrown', () => {
  const random = seededRandom(15);
  const base = evidence();
  for (let round = 0; round < 120; round++) {
    const input = structuredClone(base);
    const text = hostileString(random);
    const index = Math.floor(random() * input.journal_list.length);
    const journal = input.journal_list[index] as EvidenceJournal;
    const allocation = input.allocation_list[index % input.allocation_list.length] as EvidenceAllocation;
    const list = input.price_list_list[0] as EvidencePriceList;
    const line = input.invoice.lines[index] as InvoiceLine;
    let documentChanged = false;
    switch (round % 6) {
      case 0: {
        const at = Math.floor(random() * journal.document.length);
        const changed = journal.document.slice(0, at) + text + journal.document.slice(at + 1);
        documentChanged = changed !== journal.document;
        journal.document = changed;
        break;
      }
      case 1:
        allocation.owner = text;
        allocation.partition_id = text;
        break;
      case 2:
        allocation.allocated_at = (random() - 0.5) * 1e12;
        allocation.released_at = random() < 0.5 ? null : (random() - 0.5) * 1e12;
        break;
      case 3:
        list.resources = { [text]: text };
        list.currency = text;
        break;
      case 4:
        line.quantity = text;
        line.instance_tree = text;
        break;
      default:
        input.invoice.period = text;
        journal.computer_guid = text;
    }
    const result = verifyInvoiceEvidence(input, { caCertificatePem: testCa.ca.caCertificatePem });
    assert.equal(result.verified, result.problems.length === 0);
    for (const problem of result.problems) assert.equal(typeof problem.message, 'string');
    if (documentChanged) assert.equal(result.verified, false, JSON.stringify(text));
  }
});
