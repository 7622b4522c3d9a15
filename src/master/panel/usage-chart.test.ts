import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOSTILE_PIECES, hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { escapeHtml } from './html.ts';
import { MAX_DRAWN_POINTS, MAX_TABLE_ROWS, formatQuantity, usageChart } from './usage-chart.ts';

const T0 = Date.UTC(2026, 11, 7, 0, 0, 0) / 1000;
const RANGE = { from: T0, to: T0 + 3 * 3600 };
const POINTS = [
  { stop: T0 + 3600, quantity: 2 },
  { stop: T0 + 7200, quantity: 12.25 },
  { stop: T0 + 10_800, quantity: 7.5 },
];

/** The markup's structure: every tag and attribute name, in order (text and values left out). */
function structure(markup: string): string[] {
  return [...markup.matchAll(/<\/?([a-zA-Z]+)((?:\s+[a-zA-Z:-]+="[^"]*")*)\s*\/?>/g)].map(
    ([, tag, attributes]) =>
      `${tag}${[...(attributes ?? '').matchAll(/([a-zA-Z:-]+)="[^"]*"/g)].map((a) => ` ${a[1]}`).join('')}`,
  );
}

/** The markup with each run of whitespace as one space (prettier lays the templates out). */
function compact(markup: string): string {
  return markup.replace(/>\s+</g, '><').replace(/\s+/g, ' ');
}

test('a series: an SVG image named by resource and range, axes labelled, the last value and the figures in text', () => {
  const markup = usageChart({ resource: 'service_module/cpu_time', points: POINTS }, RANGE).markup;
  const text = compact(markup);
  assert.match(
    text,
    /<svg role="img" aria-label="CPU time \(seconds per interval\) from 2026-12-07T00:00:00Z to 2026-12-07T03:00:00Z"/,
  );
  assert.match(
    text,
    /<title>CPU time \(seconds per interval\) from 2026-12-07T00:00:00Z to 2026-12-07T03:00:00Z<\/title>/,
  );
  assert.match(text, /> seconds per interval </);
  assert.match(text, /> 12.25 </, 'the top of the y axis');
  assert.match(text, /Last: 7.5 s at <time datetime="2026-12-07T03:00:00Z">2026-12-07T03:00:00Z<\/time>/);
  assert.equal((markup.match(/<polyline/g) ?? []).length, 1);
  // The table fallback, inside <details>: one row per interval, oldest first.
  assert.match(text, /<details><summary>Figures<\/summary>/);
  assert.deepEqual(
    [...text.matchAll(/<tr><td><time datetime="([^"]+)">[^<]*<\/time><\/td><td>([^<]*)<\/td><\/tr>/g)].map(
      (m) => [m[1], m[2]],
    ),
    [
      ['2026-12-07T01:00:00Z', '2'],
      ['2026-12-07T02:00:00Z', '12.25'],
      ['2026-12-07T03:00:00Z', '7.5'],
    ],
  );
  assert.match(
    compact(usageChart({ resource: 'service_module/memory_used', points: POINTS }, RANGE).markup),
    /Memory used \(MB\)\. Last: 7.5 MB at/,
  );
  // One point: a dot, not a line.
  const one = usageChart({ resource: 'service_module/disk_used', points: POINTS.slice(0, 1) }, RANGE).markup;
  assert.deepEqual([one.includes('<circle'), one.includes('<polyline')], [true, false]);
});

test('an empty series is a sentence', () => {
  const markup = compact(usageChart({ resource: 'service_module/disk_used', points: [] }, RANGE).markup);
  assert.match(markup, /<figcaption>Disk used \(MB\)<\/figcaption><p>No usage reported yet\.<\/p>/);
  assert.doesNotMatch(markup, /<svg/);
});

test('long series stay light: the line is averaged over buckets, the table shows the latest rows', () => {
  const points = Array.from({ length: 5000 }, (_, i) => ({ stop: T0 + i * 60, quantity: i % 2 }));
  const markup = usageChart(
    { resource: 'service_module/cpu_time', points },
    { from: T0, to: T0 + 5000 * 60 },
  ).markup;
  const coordinates = /points="([^"]*)"/.exec(markup)?.[1]?.split(' ') ?? [];
  assert.equal(coordinates.length, MAX_DRAWN_POINTS);
  assert.equal((compact(markup).match(/<tr><td>/g) ?? []).length, MAX_TABLE_ROWS);
  assert.match(compact(markup), /the latest 48 of 5000 intervals/);
  assert.ok(markup.length < 30_000, `${markup.length} characters`);
});

test('quantities for people', () => {
  assert.deepEqual([0, 0.000123456, 1.5, 12.3456, 999.96, 1234.5, 1e12].map(formatQuantity), [
    '0',
    '0.0001235',
    '1.5',
    '12.35',
    '1000',
    '1235',
    '1000000000000',
  ]);
});

test('property: a hostile resource name is text, never markup: the structure stays that of a plain name', () => {
  const random = seededRandom(10);
  const attacks = [
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    '</title></svg><script>alert(1)</script>',
    'javascript:alert(1)',
    '&lt;b&gt;',
    ']]>',
  ];
  const plain = structure(usageChart({ resource: 'plain', points: POINTS }, RANGE).markup);
  const plainEmpty = structure(usageChart({ resource: 'plain', points: [] }, RANGE).markup);
  for (let i = 0; i < 300; i++) {
    const resource =
      hostileString(random, 8) +
      (attacks[i % attacks.length] ?? '') +
      (HOSTILE_PIECES[i % HOSTILE_PIECES.length] ?? '');
    const markup = usageChart({ resource, points: POINTS }, RANGE).markup;
    assert.deepEqual(structure(markup), plain, JSON.stringify(resource));
    assert.ok(markup.includes(escapeHtml(resource)), 'the name is shown, escaped');
    assert.doesNotMatch(markup, /<script|<img|<svg onload/);
    assert.deepEqual(structure(usageChart({ resource, points: [] }, RANGE).markup), plainEmpty);
  }
});
