import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, html, linkableUrl, textBlock, trustedHtml } from './html.ts';

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  'javascript:alert(1)',
  '&lt;already escaped&gt;',
  'line\nbreak\r\u2028\u2029\u0085\u0000\u001b',
];

test('html: interpolated strings are escaped, Html values and arrays are inserted', () => {
  for (const text of HOSTILE) {
    const escaped = escapeHtml(text);
    assert.doesNotMatch(escaped, /[<>"']/u);
    assert.equal(html`<p title="${text}">${text}</p>`.markup, `<p title="${escaped}">${escaped}</p>`);
  }
  const items = ['a<', 'b'].map((item) => html`<li>${item}</li>`);
  assert.equal(
    html`<ul>
      ${items}
    </ul>`.markup.replace(/\s+/g, ''),
    '<ul><li>a&lt;</li><li>b</li></ul>',
  );
  assert.equal(html`${trustedHtml('<b>x</b>')}${undefined}${null}${false}${0}`.markup, '<b>x</b>0');
});

test('html: escaping round-trips through an HTML text decoder', () => {
  const decode = (text: string): string =>
    text.replace(
      /&(amp|lt|gt|quot|#39);/g,
      (_, name: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[name] ?? '',
    );
  for (let round = 0; round < 500; round++) {
    const text =
      Array.from({ length: 20 }, () => String.fromCodePoint(Math.floor(Math.random() * 0x2100))).join('') +
      HOSTILE[round % HOSTILE.length];
    assert.equal(decode(escapeHtml(text)), text);
  }
});

test('linkableUrl: only http and https URLs become links', () => {
  assert.equal(linkableUrl('http://127.0.0.1:8080/x?a=1'), 'http://127.0.0.1:8080/x?a=1');
  assert.equal(linkableUrl('https://[::1]:1/'), 'https://[::1]:1/');
  for (const bad of [
    'javascript:alert(1)',
    ' javascript:alert(1)',
    'JaVaScRiPt:x',
    'data:text/html,<b>',
    '//evil',
    'http//x',
    'http://',
    'vbscript:x',
    'https://a b',
  ])
    assert.equal(linkableUrl(bad), undefined, bad);
});

test('textBlock: escaped text in a focusable scrolling block', () => {
  for (const text of HOSTILE) {
    assert.equal(textBlock(text).markup, `<pre class="text-block" tabindex="0">${escapeHtml(text)}</pre>`);
    assert.equal(
      textBlock(text, { id: text, error: true }).markup,
      `<pre class="text-block error-message" id="${escapeHtml(text)}" tabindex="0">${escapeHtml(text)}</pre>`,
    );
  }
});
