/**
 * A month of sealed usage on a master in master mode, invoiced (for the invoice verification tests):
 * November 2026 on alice's open node COMP-1 (two partitions). bob's tree holds slappart0 until
 * 01:30, then alice's tree `db` does; alice's tree `web` holds slappart1. The node sends three
 * hourly journals sealed with a certificate the master's CA issued to it; prices are 0.0001 per
 * CPU second, 0.001 per MB-hour and a monthly fee of 3.
 */
import type { Clock } from '../core/clock.ts';
import type { InvoiceLine } from '../core/invoice-types.ts';
import type { CertificateAuthority } from '../master/ca/certificate-authority.ts';
import type { Caller, MasterServices } from '../master/services/index.ts';
import { generateInvoices, listInvoices } from '../master/services/invoices.ts';
import { setPriceList } from '../master/services/price-lists.ts';
import type { MasterStore } from '../master/storage/repository.ts';
import { issueSigningNode, journalXml, sealChain } from './sealed-journals.ts';

export const NOVEMBER = Date.UTC(2026, 10, 1) / 1000;
const HOUR = 3600;
const SR = 'https://example.com/sr.cfg';
const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';
export const ALICE: Caller = { kind: 'user', userId: 'alice', admin: false };
export const BOB: Caller = { kind: 'user', userId: 'bob', admin: false };
export const ADMIN: Caller = { kind: 'user', userId: 'root', admin: true };
const NODE: Caller = { kind: 'compute_node', computeNodeId: 'COMP-1' };

/** alice's invoice, computed by hand. */
export const ALICE_LINES: InvoiceLine[] = [
  { instance_tree: 'db', resource: CPU, quantity: '1500', unit_price: '0.0001', amount: '0.15' },
  {
    instance_tree: 'db',
    resource: 'instance_tree_monthly_fee',
    quantity: '30',
    unit_price: '3',
    amount: '3',
  },
  { instance_tree: 'web', resource: CPU, quantity: '3900', unit_price: '0.0001', amount: '0.39' },
  { instance_tree: 'web', resource: MEMORY, quantity: '512', unit_price: '0.001', amount: '0.512' },
  {
    instance_tree: 'web',
    resource: 'instance_tree_monthly_fee',
    quantity: '30',
    unit_price: '3',
    amount: '3',
  },
];
export const ALICE_TOTAL = '7.05';

export interface InvoicingWorld {
  /** The documents the node sent, in sequence order (1, 2, 3). */
  journals: string[];
  /** The certificate the node signed them with (PEM). */
  nodeCertificatePem: string;
  /** Invoice ids of the period by user. */
  invoices: Map<string, string>;
}

type FixedClock = Clock & { set(seconds: number): void };

/** Builds the month on a master whose users alice and bob and node COMP-1 (alice's) exist. */
export async function invoiceNovember(options: {
  services: MasterServices;
  ca: CertificateAuthority;
  clock: FixedClock;
  store: MasterStore;
  format: (computeNodeId: string, partitions: number) => Promise<void>;
  request: (caller: Caller, title: string) => Promise<unknown>;
}): Promise<InvoicingWorld> {
  const { services, clock, store } = options;
  const context = services.context;
  clock.set(NOVEMBER);
  await options.format('COMP-1', 2);
  await services.supplySoftware({ caller: ALICE, computeNodeId: 'COMP-1', url: SR, state: 'available' });
  await services.updateComputeNodeAccess({ caller: ALICE, computeNodeId: 'COMP-1', allocationScope: 'open' });
  await options.request(BOB, 'bobtree'); // slappart0
  await options.request(ALICE, 'web'); // slappart1

  const signer = await issueSigningNode(options.ca, 'COMP-1');
  await store.write((repository) =>
    repository.insertCertificate({
      serial: signer.serial,
      kind: 'compute_node',
      subject: 'COMP-1',
      notAfter: signer.notAfter,
      revokedAt: null,
      createdAt: NOVEMBER,
    }),
  );
  const at = (hours: number): number => NOVEMBER + hours * HOUR;
  const journals = sealChain(signer, [
    journalXml(at(0), at(1), [
      { reference: 'slappart1', resource: CPU, quantity: 3600 },
      { reference: 'slappart0', resource: CPU, quantity: 1000 },
    ]),
    // Across the change of holder of slappart0 at 01:30: 900 s for bob, 900 s for alice.
    journalXml(at(1), at(2), [
      { reference: 'slappart0', resource: CPU, quantity: 1800 },
      { reference: 'slappart1', resource: MEMORY, quantity: 512 },
    ]),
    journalXml(at(2), at(3), [
      { reference: 'slappart0', resource: CPU, quantity: 600 },
      { reference: 'slappart1', resource: CPU, quantity: 300 },
    ]),
  ]);
  const report = (usageXml: string) =>
    services.reportComputeNodeUsage({ caller: NODE, computeNodeId: 'COMP-1', usageXml });
  clock.set(at(1));
  await report(journals[0] as string);
  clock.set(at(1.5));
  await services.reportInstanceState({
    caller: NODE,
    instanceGuid: 'SOFTINST-1',
    reportedState: 'destroyed',
  });
  await options.request(ALICE, 'db'); // slappart0, freed by bob
  clock.set(at(2));
  await report(journals[1] as string);
  clock.set(at(3));
  await report(journals[2] as string);

  await setPriceList(context, {
    caller: ADMIN,
    document: JSON.stringify({
      currency: 'EUR',
      effective: '2026-01-01',
      resources: { [CPU]: 0.0001, [MEMORY]: 0.001 },
      instance_tree_monthly_fee: 3,
    }),
  });
  clock.set(Date.UTC(2026, 11, 2) / 1000);
  await generateInvoices(context, { caller: ADMIN, period: '2026-11' });
  const invoices = new Map<string, string>();
  for (const invoice of await listInvoices(context, { caller: ADMIN, period: '2026-11' }))
    if (invoice.kind === 'invoice' && invoice.state !== 'cancelled') invoices.set(invoice.user, invoice.id);
  return { journals, nodeCertificatePem: signer.certificatePem, invoices };
}
