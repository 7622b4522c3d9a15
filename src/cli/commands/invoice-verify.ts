/**
 * `slapos invoice verify ID`: checks an invoice without trusting the master. Fetches its evidence
 * (`/slapos.get.ext.invoice_evidence`), checks each usage journal's seal and each node's chain against
 * a CA certificate the user trusts, recomputes the invoice from the signed journals and compares it
 * line by line (core/invoice-verification.ts). Exit 0 only when everything verifies.
 *
 * The CA: `--ca FILE`, else the `master_ca_file` of the client configuration (the CA the user already
 * trusts for the master's TLS certificate), else the one the master sends (said in the output). As
 * the master holds that CA, `--node-certificate FILE…` (certificates the nodes' owners hand out)
 * pins the certificate each of those nodes must have signed with.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import type { VerificationReport } from '../../core/invoice-verification.ts';
import type { InvoiceEvidence } from '../../client/types.ts';
import {
  addClientOptions,
  resolveClientConfig,
  restate,
  withMasterClient,
  type ClientCommandOptions,
} from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

interface VerifyOptions extends ClientCommandOptions {
  ca?: string;
  nodeCertificate?: string[];
}

export function registerInvoiceVerify(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'invoice')
    .command('verify')
    .description(
      "check an invoice against the usage journals its compute nodes signed: each journal's signature and chain, then the invoice recomputed line by line (exit 0 only if everything verifies)",
    )
    .argument('<id>', 'the invoice (INV-YYYYMM-NNNNNN)')
    .addOption(
      new Option(
        '--ca <file>',
        "PEM certificate of the master's CA to check the nodes' certificates with (default: master_ca_file of the configuration, else the one the master sends)",
      ),
    )
    .addOption(
      new Option(
        '--node-certificate <file...>',
        "a compute node's PEM certificate, from its owner: that node's journals must be signed with it (the master's CA could issue another)",
      ),
    );
  addClientOptions(command).action((id: string, options: VerifyOptions) => invoiceVerify(ctx, id, options));
}

/** A PEM certificate read from a file named on the command line (SLAP_ERR_USAGE when it is not one). */
async function certificateFile(option: string, path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    throw new SlapError('SLAP_ERR_USAGE', `cannot read ${option} ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  checkCertificate(pem, `${option} ${path}`);
  return pem;
}

function checkCertificate(pem: string, where: string): void {
  try {
    new X509Certificate(pem);
  } catch {
    throw new SlapError('SLAP_ERR_USAGE', `${where} is not a PEM certificate`);
  }
}

/** The CA certificate the user trusts (PEM); undefined: none of their own. */
async function trustedCa(ctx: CliContext, options: VerifyOptions): Promise<string | undefined> {
  if (options.ca !== undefined) return certificateFile('--ca', options.ca);
  const ca = resolveClientConfig(options, ctx).tls?.ca;
  if (ca === undefined) return undefined;
  checkCertificate(ca.toString(), 'the master_ca_file of the configuration');
  return ca.toString();
}

function reportLines(report: VerificationReport, evidence: InvoiceEvidence): string[] {
  const { invoice } = evidence;
  const verdict = report.verified
    ? 'VERIFIED'
    : `NOT VERIFIED (${report.problems.length} problem${report.problems.length === 1 ? '' : 's'})`;
  const lines = [
    `Invoice ${invoice.id} (${invoice.user}, ${invoice.period}, ${invoice.state}): ${verdict}`,
    `  journals: ${report.journals.total} received, ${report.journals.trusted} signed by their compute node`,
  ];
  if (report.recomputed !== null)
    lines.push(
      `  total: invoiced ${invoice.total} ${invoice.currency}, recomputed from the signed journals ${report.recomputed.total} ${report.recomputed.currency}`,
    );
  for (const problem of report.problems) lines.push(`  ${problem.kind}: ${problem.message}`);
  return lines;
}

async function invoiceVerify(ctx: CliContext, id: string, options: VerifyOptions): Promise<void> {
  const ca = await trustedCa(ctx, options);
  const nodeCertificatePems = await Promise.all(
    (options.nodeCertificate ?? []).map((path) => certificateFile('--node-certificate', path)),
  );
  const evidence = await withMasterClient(ctx, options, (client) => client.getInvoiceEvidence(id)).catch(
    restate(
      'SLAP_ERR_NOT_FOUND',
      `Invoice ${id} does not exist.`,
      '`slapos invoice list` shows your invoices; a master without invoicing (or the legacy API) has no evidence to give',
    ),
  );
  // Loaded here: the verification needs the CLI's start-up to load nothing of it.
  const { verifyInvoiceEvidence } = await import('../../core/invoice-verification.ts');
  const report = verifyInvoiceEvidence(evidence, { caCertificatePem: ca, nodeCertificatePems });
  if (!report.verified) ctx.exitCode = 1;
  if (options.json) {
    ctx.printJson(report);
    return;
  }
  ctx.print(reportLines(report, evidence).join('\n'));
  if (report.ca === 'master')
    ctx.note(
      "warning: checked against the CA certificate the master sent; pass --ca with your own copy of the master's CA",
    );
}
