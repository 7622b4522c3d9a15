/**
 * The invoice documents: the HTML (standalone and the panel's fragments) keeps its structure
 * whatever the values hold (property test: every value is inserted escaped, as one printable line,
 * and nothing else changes), and the PDF is a valid PDF whose text can be extracted, whatever the
 * values hold, across pages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import type { InvoiceDocument } from '../../core/invoice-types.ts';
import { oneLine } from '../../core/printable-text.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { escapeHtml } from '../panel/html.ts';
import { invoiceFactsHtml, invoiceLinesHtml, renderInvoiceHtml } from './render-html.ts';
import { pdfText, renderInvoicePdf } from './render-pdf.ts';

function sampleInvoice(overrides: Partial<InvoiceDocument> = {}): InvoiceDocument {
  return {
    id: 'INV-202601-000001',
    kind: 'invoice',
    user: 'alice',
    period: '2026-01',
    currency: 'EUR',
    lines: [
      {
        instance_tree: 'my-web',
        resource: 'service_module/cpu_time',
        quantity: '3600',
        unit_price: '0.0001',
        amount: '0.3600',
      },
      {
        instance_tree: 'my-web',
        resource: 'instance_tree_monthly_fee',
        quantity: '31',
        unit_price: '5',
        amount: '5.000000',
      },
    ],
    total: '5.36',
    state: 'issued',
    corrects: null,
    issued_at: '2026-02-01T00:05:00.000Z',
    paid_at: null,
    ...overrides,
  };
}

/** Markup pieces on top of the shared hostile pieces. */
const MARKUP_PIECES = [
  '<script>alert(1)</script>',
  '</td>',
  '</table>',
  '<!--',
  '-->',
  '&amp;',
  '&',
  '<',
  '>',
];

function hostileValue(random: () => number): string {
  let text = hostileString(random, 8);
  if (random() < 0.5) text += MARKUP_PIECES[Math.floor(random() * MARKUP_PIECES.length)] ?? '';
  return text;
}

/** Every string field of an invoice and its lines, with a distinct marker each. */
function markedInvoice(values: (index: number) => string): InvoiceDocument {
  return sampleInvoice({
    user: values(0),
    currency: values(1),
    corrects: values(2),
    paid_at: values(3),
    lines: [
      {
        instance_tree: values(4),
        resource: values(5),
        quantity: values(6),
        unit_price: values(7),
        amount: values(8),
      },
      {
        instance_tree: values(9),
        resource: 'service_module/memory_used',
        quantity: '1',
        unit_price: '2',
        amount: '2',
      },
    ],
    total: values(10),
  });
}

const MARKER = (index: number): string => `QQMARKER${index}QQ`;

test('invoice HTML: a value, whatever it holds, is inserted escaped on one line and changes nothing else (property)', () => {
  const random = seededRandom(15);
  const render = (invoice: InvoiceDocument): string =>
    renderInvoiceHtml(invoice) +
    invoiceFactsHtml(invoice, { invoiceHref: (id) => `/i/${id}` }).markup +
    invoiceLinesHtml(invoice, { treeHref: (title) => `/t/${title}` }).markup;
  const skeleton = render(markedInvoice(MARKER));
  for (let run = 0; run < 300; run++) {
    const values = Array.from({ length: 11 }, () => hostileValue(random));
    const markup = render(markedInvoice((index) => values[index] ?? ''));
    let expected = skeleton;
    values.forEach((value, index) => {
      expected = expected
        .split(`/${MARKER(index)}"`)
        .join(`/${escapeHtml(value)}"`)
        .split(MARKER(index))
        .join(escapeHtml(oneLine(value)));
    });
    assert.equal(markup, expected, `values ${JSON.stringify(values)}`);
    const text = markup.replace(/ href="[^"]*"/g, '');
    assert.doesNotMatch(
      text,
      /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/,
      'no control character outside links',
    );
  }
});

test('invoice HTML: facts, lines, total and the credit note heading', () => {
  const markup = renderInvoiceHtml(sampleInvoice());
  assert.match(markup, /^<!doctype html>/);
  assert.match(markup, /<title>Invoice INV-202601-000001 · SlapOS<\/title>/);
  assert.doesNotMatch(markup, /<script|<link|src=/, 'standalone: no script, no external resource');
  assert.match(markup, /<td class="number">3600 s<\/td>/);
  assert.match(markup, /<code>Monthly fee<\/code>[\s\S]*31 days/);
  assert.match(markup, /<strong>5.36 EUR<\/strong>/);
  const credit = renderInvoiceHtml(
    sampleInvoice({
      id: 'CN-202601-000001',
      kind: 'credit_note',
      corrects: 'INV-202601-000001',
      total: '-5.36',
    }),
  );
  assert.match(credit, /<h1>Credit note CN-202601-000001<\/h1>/);
  assert.match(credit, /<dt>Cancels<\/dt>\s*<dd>INV-202601-000001<\/dd>/);
  assert.match(renderInvoiceHtml(sampleInvoice({ lines: [], total: '0.00' })), /Nothing billed\./);
});

/** The text a PDF shows: the strings of its text operators, page by page, one string per TJ/Tj. */
function pdfStrings(pdf: Buffer): string[] {
  const source = pdf.toString('latin1');
  const strings: string[] = [];
  for (const match of source.matchAll(/stream\r?\n([\s\S]*?)\r?\nendstream/g)) {
    const raw = Buffer.from(match[1] ?? '', 'latin1');
    let content: string;
    try {
      content = inflateSync(raw).toString('latin1');
    } catch {
      content = raw.toString('latin1');
    }
    for (const operator of content.matchAll(/\[([^\]]*)\]\s*TJ/g)) {
      const pieces = [...(operator[1] ?? '').matchAll(/<([0-9a-fA-F]*)>/g)].map((hex) =>
        Buffer.from(hex[1] ?? '', 'hex').toString('latin1'),
      );
      strings.push(pieces.join(''));
    }
  }
  return strings;
}

function assertValidPdf(pdf: Buffer): void {
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.match(pdf.toString('latin1').trimEnd(), /%%EOF$/);
  assert.match(pdf.toString('latin1'), /\nxref\n[\s\S]*\ntrailer\n/);
}

test('invoice PDF: a valid PDF whose text holds the heading, the lines and the total', async () => {
  const pdf = await renderInvoicePdf(sampleInvoice());
  assertValidPdf(pdf);
  const text = pdfStrings(pdf).join('\n');
  assert.match(text, /Invoice INV-202601-000001/);
  assert.match(text, /my-web/);
  assert.match(text, /3600 s/);
  assert.match(text, /Total: 5\.36 EUR/);
  assert.deepEqual(
    await renderInvoicePdf(sampleInvoice()),
    pdf,
    'the same invoice renders to the same bytes',
  );
});

test('invoice PDF: many lines go on several pages, each with the table header', async () => {
  const lines = Array.from({ length: 150 }, (_, index) => ({
    instance_tree: `tree-${index}`,
    resource: 'service_module/disk_used',
    quantity: `${index}.5`,
    unit_price: '0.0005',
    amount: '0.1',
  }));
  const pdf = await renderInvoicePdf(sampleInvoice({ lines }));
  assertValidPdf(pdf);
  const pages = pdf.toString('latin1').match(/\/Type \/Page\b/g)?.length ?? 0;
  assert.ok(pages >= 3, `${pages} pages`);
  const text = pdfStrings(pdf);
  assert.equal(text.filter((line) => line === 'Instance tree').length, pages);
  assert.ok(text.includes('tree-149'));
});

test('invoice PDF: hostile values print as WinAnsi text on one line, and the document stays valid (property)', async () => {
  const random = seededRandom(1515);
  for (let run = 0; run < 300; run++) {
    const value = hostileValue(random);
    const printed = pdfText(value);
    assert.doesNotMatch(printed, /[^\u0020-\u007e\u00a0-\u00ff€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]/u);
    assert.equal(pdfText(printed), printed, 'printing is idempotent');
  }
  for (let run = 0; run < 8; run++) {
    const values = Array.from({ length: 11 }, () => hostileValue(random).slice(0, 2000));
    const pdf = await renderInvoicePdf(markedInvoice((index) => values[index] ?? ''));
    assertValidPdf(pdf);
    assert.ok(pdfStrings(pdf).some((text) => text.startsWith('Invoice INV-202601-000001')));
  }
});
