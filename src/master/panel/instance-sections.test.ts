/** The timeline and promise sections: their markup, and hostile text shown as text only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSTANCE_EVENT_KINDS } from '../../core/instance-events.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import type { InstanceEvent, PromiseResults, PromiseTransition } from '../services/index.ts';
import type { Html } from './html.ts';
import { promiseSection } from './promise-section.ts';
import { isoUtc, timeElement } from './time-element.ts';
import { EVENT_WORDS, timelineSection } from './timeline-section.ts';

const AT = 1_700_000_000.25;
const ISO = '2023-11-14T22:13:20Z';

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  'javascript:alert(1)',
  '</pre></li></ol><script>alert(1)</script>',
  '&lt;already escaped&gt;',
  'a'.repeat(20_000),
  'line\nbreak\r\u2028\u2029\u0085\u001b',
];

/** Markup without whitespace: the layout prettier gives the templates is not compared. */
function compact(markup: Html | string): string {
  return (typeof markup === 'string' ? markup : markup.markup).replace(/\s+/g, '');
}

/** The tags of some markup, in order: what hostile text must never add to. */
function tags(markup: Html): string[] {
  return markup.markup.match(/<[^>]*>/g) ?? [];
}

/** The text of some markup, as a browser decodes it. */
function text(markup: Html): string {
  return markup.markup
    .replace(/<[^>]*>/g, '')
    .replace(
      /&(amp|lt|gt|quot|#39);/g,
      (_, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name] ?? '',
    );
}

test('time: ISO 8601 UTC text to the second in a <time datetime>; no time is said so', () => {
  assert.equal(isoUtc(AT), ISO);
  assert.equal(timeElement(AT).markup, `<time datetime="${ISO}">${ISO}</time>`);
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1e20])
    assert.equal(timeElement(bad).markup, '<span class="muted">unknown time</span>');
});

test('timeline: an ordered list, kinds in words, failures in a wrapped block', () => {
  const events: InstanceEvent[] = [
    { kind: 'failed', at: AT, detail: 'boom' },
    { kind: 'allocated', at: AT, detail: 'COMP-1/slappart0' },
    { kind: 'parameters_changed', at: AT, detail: 'parameters' },
    { kind: 'requested', at: AT, detail: null },
  ];
  const time = `<time datetime="${ISO}">${ISO}</time>`;
  assert.equal(
    compact(timelineSection(events)),
    compact(
      '<ol class="timeline">' +
        `<li class="event event-failed">${time}<strong>Failed</strong><pre class="text-block">boom</pre></li>` +
        `<li class="event event-allocated">${time}<strong>Allocated</strong> on <code>COMP-1/slappart0</code></li>` +
        `<li class="event event-parameters_changed">${time}<strong>Changed</strong>: <span class="event-detail">parameters</span></li>` +
        `<li class="event event-requested">${time}<strong>Requested</strong></li>` +
        '</ol>',
    ),
  );
  assert.equal(compact(timelineSection([])), compact('<p class="muted">Nothing has happened yet.</p>'));
  for (const kind of INSTANCE_EVENT_KINDS) assert.match(EVENT_WORDS[kind], /^[A-Z][a-z ]+$/);
});

test('property: hostile details are shown as text, never as markup, in every kind of event', () => {
  const random = seededRandom(42);
  const strings = [...HOSTILE, ...Array.from({ length: 300 }, () => hostileString(random))];
  for (const [index, hostile] of strings.entries()) {
    const kind = INSTANCE_EVENT_KINDS[index % INSTANCE_EVENT_KINDS.length] ?? 'failed';
    const rendered = timelineSection([{ kind, at: AT, detail: hostile }]);
    assert.deepEqual(tags(rendered), tags(timelineSection([{ kind, at: AT, detail: 'x' }])), hostile);
    assert.ok(text(rendered).includes(hostile), hostile);
  }
});

test('promises: the current results, then each promise history, newest first', () => {
  const results: PromiseResults = {
    results: [
      { name: 'http', status: 'pass', message: '', date: '2023-11-14T22:13:00+00:00' },
      { name: 'disk', status: 'fail', message: 'full', date: '2023-11-14T22:13:01+00:00' },
    ],
    reportedAt: AT,
  };
  const history: PromiseTransition[] = [
    { name: 'disk', status: 'fail', message: 'full', at: AT },
    { name: 'gone', status: 'pass', message: '', at: AT },
    { name: 'disk', status: 'pass', message: '', at: AT - 60 },
  ];
  const time = `<time datetime="${ISO}">${ISO}</time>`;
  const earlier = '<time datetime="2023-11-14T22:12:20Z">2023-11-14T22:12:20Z</time>';
  const ok = '<span class="badge badge-promise-ok">ok</span>';
  const failing = '<span class="badge badge-promise-failing">failing</span>';
  assert.equal(
    compact(promiseSection({ results, history })),
    compact(
      '<div class="table-scroll"><table class="promise-results">' +
        `<caption class="muted">2 promises, reported ${time}</caption>` +
        '<thead><tr><th scope="col">Promise</th><th scope="col">Status</th><th scope="col">Message</th>' +
        `<th scope="col">Ran at (node's time)</th></tr></thead>` +
        `<tbody><tr><th scope="row">http</th><td>${ok}</td><td></td><td>2023-11-14T22:13:00+00:00</td></tr>` +
        `<tr><th scope="row">disk</th><td>${failing}</td><td><pre class="text-block">full</pre></td>` +
        '<td>2023-11-14T22:13:01+00:00</td></tr></tbody></table></div>' +
        '<details class="promise-history"><summary>History of <strong>http</strong> (0 changes)</summary>' +
        '<p class="muted">No change recorded.</p></details>' +
        '<details class="promise-history"><summary>History of <strong>disk</strong> (2 changes)</summary>' +
        `<ol class="timeline"><li>${time}${failing}<pre class="text-block">full</pre></li>` +
        `<li>${earlier}${ok}</li></ol></details>` +
        '<details class="promise-history"><summary>History of <strong>gone</strong> (1 change)</summary>' +
        `<ol class="timeline"><li>${time}${ok}</li></ol></details>`,
    ),
  );
  assert.equal(
    compact(promiseSection({ results: { results: [], reportedAt: null }, history: [] })),
    compact('<p class="muted">No promise results reported.</p>'),
  );
});

test('property: hostile promise names, messages and dates are shown as text', () => {
  const random = seededRandom(9);
  const strings = [...HOSTILE, ...Array.from({ length: 200 }, () => hostileString(random))];
  const render = (name: string, message: string, date: string) =>
    promiseSection({
      results: { results: [{ name, status: 'fail', message, date }], reportedAt: AT },
      history: [{ name, status: 'fail', message, at: AT }],
    });
  for (const hostile of strings) {
    const [name, message, date] = [hostile, `${hostile}!`, `${hostile}?`];
    const rendered = render(name, message, date);
    // A non-empty message: the same tags as a plain one.
    assert.deepEqual(tags(rendered), tags(render('n', 'm', 'd')), hostile);
    for (const part of [name, message, date]) assert.ok(text(rendered).includes(part), hostile);
  }
});
