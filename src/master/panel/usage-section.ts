/**
 * The usage graphs of a compute node or of an instance over the last day (CPU, memory and disk, as
 * the nodes report them): read through the services, drawn by usage-chart.ts.
 */
import type { Caller, MasterServices } from '../services/index.ts';
import { html, type Html } from './html.ts';
import { usageChart, type UsageChartRange, type UsageChartSeries } from './usage-chart.ts';

export const USAGE_RESOURCES = [
  'service_module/cpu_time',
  'service_module/memory_used',
  'service_module/disk_used',
] as const;
const USAGE_RANGE_S = 86_400;

export interface LastDayUsage {
  series: readonly UsageChartSeries[];
  range: UsageChartRange;
}

export async function readLastDayUsage(
  services: MasterServices,
  caller: Caller,
  subject: { computeNodeId: string } | { instanceGuid: string },
): Promise<LastDayUsage> {
  const to = services.context.clock.now();
  const range = { from: to - USAGE_RANGE_S, to };
  const series = await services.readUsageSeries({
    caller,
    ...subject,
    resources: [...USAGE_RESOURCES],
    ...range,
  });
  return { series, range };
}

/**
 * The graphs under a heading: a live section of its own (`id` unique on the page), or, `nested` in
 * a live section, a part of it.
 */
export function usageSection(
  id: string,
  heading: string,
  usage: LastDayUsage,
  options: { nested?: boolean } = {},
): Html {
  const title = options.nested
    ? html`<h3 id="${id}-heading">${heading}</h3>`
    : html`<h2 id="${id}-heading">${heading}</h2>`;
  return html`<section id="${id}" ${options.nested ? '' : html`data-live`} aria-labelledby="${id}-heading">
    ${title} ${usage.series.map((series) => usageChart(series, usage.range))}
  </section>`;
}
