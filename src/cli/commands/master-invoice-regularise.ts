/**
 * `slapos master invoice regularise`: applies the regularisation policy now, on the master
 * directory's database (works while the master runs; the master also applies it hourly), or with
 * `--dry-run` lists what it would do. The policy comes from the master's settings (`--cfg` with
 * `[master] regularisation_stop_after_days` and `regularisation_destroy_after_days`, or the flags).
 */
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import type { RegularisationReport } from '../../master/services/regularisation.ts';
import type { CliContext } from '../context.ts';
import { commandGroup, subcommandGroup } from '../group.ts';
import { addMasterAdminOptions, type MasterAdminFlags } from '../master-admin-options.ts';
import { resolveMasterSettings } from '../master-config.ts';
import { oneLine, renderTable } from '../text-block.ts';

interface RegulariseFlags extends MasterAdminFlags {
  dryRun?: boolean;
  regularisationStopAfterDays?: string;
  regularisationDestroyAfterDays?: string;
}

const VERBS = { stop: 'stop', destroy: 'destroy', restart: 'restart' } as const;

/** The report as `--json` prints it (snake_case, ISO time). */
export function regularisationJson(report: RegularisationReport): unknown {
  return {
    at: new Date(report.at * 1000).toISOString(),
    dry_run: report.dryRun,
    actions: report.actions.map((action) => ({
      action: action.action,
      user: action.user,
      instance_tree: action.instanceTree,
      invoice: action.invoice,
      ...(action.error === undefined ? {} : { error: action.error }),
    })),
    invoices: report.invoices.map((mark) => ({
      invoice: mark.invoice,
      user: mark.user,
      regularisation: mark.regularisation,
    })),
  };
}

function render(ctx: CliContext, report: RegularisationReport): void {
  if (report.actions.length === 0 && report.invoices.length === 0) {
    ctx.print(report.dryRun ? 'Nothing to do.' : 'Nothing done.');
    return;
  }
  const lines: string[] = [];
  if (report.actions.length > 0)
    lines.push(
      ...renderTable(
        [report.dryRun ? 'WOULD' : 'DONE', 'USER', 'INVOICE', 'INSTANCE TREE'],
        report.actions.map((action) => [
          action.error === undefined ? VERBS[action.action] : `${VERBS[action.action]} (failed)`,
          action.user,
          action.invoice,
          action.instanceTree,
        ]),
      ),
    );
  for (const mark of report.invoices)
    lines.push(
      `${mark.invoice} (${oneLine(mark.user)}): ${report.dryRun ? 'would be marked' : 'marked'} ${mark.regularisation}`,
    );
  ctx.print(lines.join('\n'));
  for (const action of report.actions)
    if (action.error !== undefined)
      ctx.note(`failed to ${action.action} ${oneLine(action.instanceTree)}: ${oneLine(action.error)}`);
}

export function registerMasterInvoiceRegularise(program: Command, ctx: CliContext): void {
  const invoices = subcommandGroup(
    commandGroup(program, 'master'),
    'invoice',
    'the invoices of a master in master mode',
  );
  addMasterAdminOptions(
    invoices
      .command('regularise')
      .description(
        'apply the regularisation policy now: stop (then destroy) the instance trees of users with invoices unpaid past its delays, restart the ones it stopped once they are paid; --dry-run lists what it would do',
      )
      .option('--dry-run', 'change nothing: list what the policy would do')
      .option(
        '--regularisation-stop-after-days <days>',
        'days after its issue an unpaid invoice stops its trees ([master] regularisation_stop_after_days)',
      )
      .option(
        '--regularisation-destroy-after-days <days>',
        'days after its issue an unpaid invoice destroys them ([master] regularisation_destroy_after_days)',
      ),
  ).action(async (options: RegulariseFlags) => {
    const settings = resolveMasterSettings(options, ctx);
    const policy = settings.regularisation;
    if (policy === undefined)
      throw new SlapError('SLAP_ERR_CONFIG', 'the regularisation policy is off', {
        hint:
          'give it as `slapos master start` has it: --cfg with regularisation_stop_after_days and ' +
          'regularisation_destroy_after_days in [master], or the --regularisation-… flags',
      });
    const { withAdminServiceContext } = await import('../../master/admin-service-context.ts');
    const { regularise } = await import('../../master/services/regularisation.ts');
    const report = await withAdminServiceContext(
      { dir: settings.dir, database: settings.database, logger: ctx.logger() },
      (context) => regularise(context, { policy, dryRun: options.dryRun === true }),
    );
    if (options.json) ctx.printJson(regularisationJson(report));
    else render(ctx, report);
    if (report.actions.some((action) => action.error !== undefined)) ctx.exitCode = 1;
  });
}
