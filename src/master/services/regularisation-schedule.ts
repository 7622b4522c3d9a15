/**
 * The master applying its regularisation policy (regularisation.ts) on its own: once when it
 * starts, then every `intervalMs` (hourly by default). A failed run is logged and the next one
 * comes at its time; runs never overlap. `close()` cancels the next run and waits for the one in
 * progress (the master closes this before its store).
 */
import type { RegularisationPolicy } from '../../core/regularisation-policy.ts';
import type { ServiceContext } from './context.ts';
import { regularise, type RegularisationReport } from './regularisation.ts';

export const REGULARISATION_INTERVAL_MS = 3_600_000;

export interface RegularisationSchedule {
  /** Runs finished so far (failed ones included). */
  readonly runs: number;
  /** The report of the last run that finished without failing. */
  readonly lastReport: RegularisationReport | undefined;
  /** Resolves once no run is in progress. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

function counts(report: RegularisationReport): Record<string, number> {
  const counted: Record<string, number> = { stop: 0, destroy: 0, restart: 0, failed: 0 };
  for (const action of report.actions) {
    counted[action.action] = (counted[action.action] ?? 0) + 1;
    if (action.error !== undefined) counted.failed = (counted.failed ?? 0) + 1;
  }
  return counted;
}

export function scheduleRegularisation(
  context: ServiceContext,
  options: { policy: RegularisationPolicy; intervalMs?: number },
): RegularisationSchedule {
  const intervalMs = options.intervalMs ?? REGULARISATION_INTERVAL_MS;
  let runs = 0;
  let lastReport: RegularisationReport | undefined;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const runOnce = async (): Promise<void> => {
    try {
      const report = await regularise(context, { policy: options.policy });
      lastReport = report;
      if (report.actions.length > 0 || report.invoices.length > 0)
        context.logger.info(
          { ...counts(report), invoices: report.invoices.length },
          'regularisation: policy applied',
        );
    } catch (error) {
      context.logger.error({ err: error }, 'regularisation: the run failed');
    } finally {
      runs += 1;
    }
  };
  const next = (): void => {
    if (closed) return;
    running = runOnce().finally(() => {
      if (closed) return;
      timer = setTimeout(next, intervalMs);
      timer.unref();
    });
  };
  context.logger.info(
    {
      stopAfterDays: options.policy.stopAfterDays,
      destroyAfterDays: options.policy.destroyAfterDays,
      intervalMs,
    },
    'regularisation: policy on',
  );
  next();

  return {
    get runs() {
      return runs;
    },
    get lastReport() {
      return lastReport;
    },
    idle: () => running,
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
