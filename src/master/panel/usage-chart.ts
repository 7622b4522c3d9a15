/**
 * A usage series (services' readUsageSeries) as an accessible inline SVG line chart: the SVG is one
 * image (`role="img"`, its `aria-label` and `<title>` name the resource and the range), with its axes
 * labelled and the last value in text beside it; the figures themselves are in a table inside
 * `<details>` for screen readers and for copying. Everything goes through html.ts: a resource name
 * from a node can never change the markup. Presentation attributes only (the panel's CSP has no
 * inline styles).
 *
 * Units are the reports': CPU time in seconds used per interval, memory and disk in MB.
 */
import type { UsagePoint } from '../storage/repository.ts';
import { isoUtc, timeElement } from './time-element.ts';
import { html, type Html } from './html.ts';

export interface UsageChartSeries {
  resource: string;
  /** Oldest first. */
  points: readonly UsagePoint[];
}

/** The range shown, float seconds (the one the series was read for). */
export interface UsageChartRange {
  from: number;
  to: number;
}

/** The lines drawn at most (longer series are averaged over even buckets of points). */
export const MAX_DRAWN_POINTS = 240;
/** The rows of the data table at most (the latest intervals): pages stay light. */
export const MAX_TABLE_ROWS = 48;

const WIDTH = 640;
const HEIGHT = 220;
const LEFT = 64;
const RIGHT = 16;
const TOP = 16;
const BOTTOM = 40;
const LINE_COLOUR = '#0b5cad';
const AXIS_COLOUR = '#4a5360';

interface ResourceLabel {
  name: string;
  unit: string;
  /** The y axis's label. */
  axis: string;
}

const KNOWN: Readonly<Record<string, ResourceLabel>> = {
  'service_module/cpu_time': { name: 'CPU time', unit: 's', axis: 'seconds per interval' },
  'service_module/memory_used': { name: 'Memory used', unit: 'MB', axis: 'MB' },
  'service_module/disk_used': { name: 'Disk used', unit: 'MB', axis: 'MB' },
};

/** How a resource is named on the panel: known ones in words, others by their own name. */
export function usageResourceLabel(resource: string): ResourceLabel {
  return Object.hasOwn(KNOWN, resource)
    ? (KNOWN[resource] as ResourceLabel)
    : { name: resource, unit: '', axis: 'quantity' };
}

/** ISO 8601 UTC text of float seconds (the value itself when it is no date). */
function isoTime(seconds: number): string {
  return isoUtc(seconds) ?? String(seconds);
}

/** A quantity for people: four significant digits, no exponent below a billion. */
export function formatQuantity(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toString();
  return String(Number(value.toPrecision(4)));
}

function withUnit(value: number, unit: string): string {
  return unit === '' ? formatQuantity(value) : `${formatQuantity(value)} ${unit}`;
}

/** At most `limit` points: consecutive buckets averaged, each placed at its last interval end. */
function downsample(points: readonly UsagePoint[], limit: number): UsagePoint[] {
  if (points.length <= limit) return [...points];
  const drawn: UsagePoint[] = [];
  for (let bucket = 0; bucket < limit; bucket++) {
    const slice = points.slice(
      Math.floor((bucket * points.length) / limit),
      Math.floor(((bucket + 1) * points.length) / limit),
    );
    const last = slice[slice.length - 1];
    if (last === undefined) continue;
    drawn.push({ stop: last.stop, quantity: slice.reduce((sum, p) => sum + p.quantity, 0) / slice.length });
  }
  return drawn;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function plot(
  label: ResourceLabel,
  points: readonly UsagePoint[],
  range: UsageChartRange,
  name: string,
): Html {
  const drawn = downsample(points, MAX_DRAWN_POINTS);
  const top = Math.max(...drawn.map((p) => p.quantity), 0) || 1;
  const from = Math.min(range.from, drawn[0]?.stop ?? range.from);
  const to = Math.max(range.to, drawn[drawn.length - 1]?.stop ?? range.to);
  const span = to - from;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const x = (stop: number) => round(LEFT + (span > 0 ? ((stop - from) / span) * plotWidth : plotWidth / 2));
  const y = (quantity: number) => round(TOP + plotHeight - (quantity / top) * plotHeight);
  const line =
    drawn.length === 1
      ? html`<circle
          cx="${x(drawn[0]?.stop ?? from)}"
          cy="${y(drawn[0]?.quantity ?? 0)}"
          r="4"
          fill="${LINE_COLOUR}"
        />`
      : html`<polyline
          points="${drawn.map((p) => `${x(p.stop)},${y(p.quantity)}`).join(' ')}"
          fill="none"
          stroke="${LINE_COLOUR}"
          stroke-width="2"
          stroke-linejoin="round"
        />`;
  const bottom = TOP + plotHeight;
  return html`<svg
    role="img"
    aria-label="${name}"
    viewBox="0 0 ${WIDTH} ${HEIGHT}"
    width="100%"
    preserveAspectRatio="xMidYMid meet"
    focusable="false"
  >
    <title>${name}</title>
    <line x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${bottom}" stroke="${AXIS_COLOUR}" />
    <line x1="${LEFT}" y1="${bottom}" x2="${WIDTH - RIGHT}" y2="${bottom}" stroke="${AXIS_COLOUR}" />
    <text x="${LEFT - 6}" y="${TOP + 4}" text-anchor="end" font-size="12" fill="${AXIS_COLOUR}">
      ${formatQuantity(top)}
    </text>
    <text x="${LEFT - 6}" y="${bottom}" text-anchor="end" font-size="12" fill="${AXIS_COLOUR}">0</text>
    <text
      x="14"
      y="${TOP + plotHeight / 2}"
      text-anchor="middle"
      font-size="12"
      fill="${AXIS_COLOUR}"
      transform="rotate(-90 14 ${TOP + plotHeight / 2})"
    >
      ${label.axis}
    </text>
    <text x="${LEFT}" y="${HEIGHT - 8}" font-size="12" fill="${AXIS_COLOUR}">${isoTime(from)}</text>
    <text x="${WIDTH - RIGHT}" y="${HEIGHT - 8}" text-anchor="end" font-size="12" fill="${AXIS_COLOUR}">
      ${isoTime(to)}
    </text>
    ${line}
  </svg>`;
}

function dataTable(label: ResourceLabel, points: readonly UsagePoint[]): Html {
  const shown = points.slice(-MAX_TABLE_ROWS);
  const caption =
    shown.length < points.length
      ? `${label.name}: the latest ${shown.length} of ${points.length} intervals`
      : `${label.name}: ${points.length} intervals`;
  return html`<details>
    <summary>Figures</summary>
    <div class="table-scroll">
      <table>
        <caption>
          ${caption}
        </caption>
        <thead>
          <tr>
            <th scope="col">Interval end (UTC)</th>
            <th scope="col">${label.unit === '' ? 'Quantity' : `Quantity (${label.unit})`}</th>
          </tr>
        </thead>
        <tbody>
          ${shown.map(
            (p) =>
              html`<tr>
                <td>${timeElement(p.stop)}</td>
                <td>${formatQuantity(p.quantity)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </details>`;
}

/** The chart of one series over `range`; an empty series says so in a sentence. */
export function usageChart(series: UsageChartSeries, range: UsageChartRange): Html {
  const label = usageResourceLabel(series.resource);
  const heading = label.unit === '' ? label.name : `${label.name} (${label.axis})`;
  const last = series.points[series.points.length - 1];
  if (last === undefined)
    return html`<figure class="usage-chart">
      <figcaption>${heading}</figcaption>
      <p>No usage reported yet.</p>
    </figure>`;
  const name = `${heading} from ${isoTime(range.from)} to ${isoTime(range.to)}`;
  return html`<figure class="usage-chart">
    <figcaption>
      ${heading}. Last: ${withUnit(last.quantity, label.unit)} at ${timeElement(last.stop)}.
    </figcaption>
    ${plot(label, series.points, range, name)} ${dataTable(label, series.points)}
  </figure>`;
}
