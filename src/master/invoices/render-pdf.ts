/**
 * An invoice as a PDF (A4), drawn with pdfkit and its standard Helvetica fonts: no font file, no
 * headless browser. Those fonts encode WinAnsi (Latin-1 and a few signs) only, so every other
 * character of a value is printed as its `\uXXXX` escape, as control characters and line
 * terminators are (printable-text.ts): a value never changes the layout and never turns into
 * other characters. Its text is extractable (text operators, not outlines). Heavy: load it with
 * `await import()` where a PDF is asked for.
 */
import PDFDocument from 'pdfkit';
import { oneLine } from '../../core/printable-text.ts';
import type { InvoiceDocument } from '../../core/invoice-types.ts';
import {
  invoiceFacts,
  invoiceHeading,
  quantityText,
  resourceLabel,
  totalText,
} from './invoice-presentation.ts';

/** The signs WinAnsi has beyond Latin-1 (code points 0x80-0x9F of Windows-1252). */
const WIN_ANSI_EXTRA = new Set('€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ');

function isWinAnsi(char: string): boolean {
  const code = char.codePointAt(0) ?? 0;
  return (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRA.has(char);
}

/** A value as the standard fonts can print it: one line, other characters as `\uXXXX` escapes. */
export function pdfText(text: string): string {
  let printed = '';
  for (const char of oneLine(text)) {
    if (isWinAnsi(char)) printed += char;
    else {
      const code = char.codePointAt(0) ?? 0;
      printed += code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
    }
  }
  return printed;
}

const MARGIN = 50;
const FONT = 'Helvetica';
const BOLD = 'Helvetica-Bold';
const SIZE = 9;
const CELL_PADDING = 3;

interface Column {
  header: string;
  width: number;
  align: 'left' | 'right';
}

/** Instance tree, resource, quantity, unit price, amount: 495 points, A4's width inside the margins. */
const COLUMNS: readonly Column[] = [
  { header: 'Instance tree', width: 150, align: 'left' },
  { header: 'Resource', width: 125, align: 'left' },
  { header: 'Quantity', width: 90, align: 'right' },
  { header: 'Unit price', width: 65, align: 'right' },
  { header: 'Amount', width: 65, align: 'right' },
];

/** Renders the invoice as the bytes of a PDF document. */
export function renderInvoicePdf(invoice: InvoiceDocument): Promise<Buffer> {
  const heading = pdfText(invoiceHeading(invoice));
  const issued = new Date(invoice.issued_at);
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    info: {
      Title: heading,
      Author: 'SlapOS',
      // The issue date, not the rendering's: the same invoice renders to the same document.
      ...(Number.isNaN(issued.getTime()) ? {} : { CreationDate: issued }),
    },
  });
  const done = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  doc.font(BOLD).fontSize(16).text(heading, { width: 495 });
  doc.moveDown(0.75);
  const labelWidth = 80;
  for (const fact of invoiceFacts(invoice)) {
    const y = doc.y;
    doc.font(BOLD).fontSize(10).text(fact.label, MARGIN, y, { width: labelWidth });
    doc.font(FONT).text(pdfText(fact.value), MARGIN + labelWidth, y, { width: 495 - labelWidth });
  }
  doc.moveDown(1);
  doc
    .font(FONT)
    .fontSize(SIZE)
    .text(`Amounts in ${pdfText(invoice.currency)}`, MARGIN);
  doc.moveDown(0.5);

  const drawRow = (cells: readonly string[], font: string): void => {
    doc.font(font).fontSize(SIZE);
    const height =
      Math.max(
        ...cells.map((cell, index) =>
          doc.heightOfString(cell, { width: (COLUMNS[index]?.width ?? 0) - 2 * CELL_PADDING }),
        ),
      ) +
      2 * CELL_PADDING;
    if (doc.y + height > doc.page.height - MARGIN) {
      doc.addPage();
      if (font !== BOLD)
        drawRow(
          COLUMNS.map((column) => column.header),
          BOLD,
        );
      doc.font(font).fontSize(SIZE);
    }
    const top = doc.y;
    let x = MARGIN;
    cells.forEach((cell, index) => {
      const column = COLUMNS[index];
      if (!column) return;
      doc.text(cell, x + CELL_PADDING, top + CELL_PADDING, {
        width: column.width - 2 * CELL_PADDING,
        align: column.align,
      });
      x += column.width;
    });
    doc
      .moveTo(MARGIN, top + height)
      .lineTo(MARGIN + 495, top + height)
      .lineWidth(0.5)
      .strokeColor('#999999')
      .stroke();
    doc.x = MARGIN;
    doc.y = top + height;
  };

  drawRow(
    COLUMNS.map((column) => column.header),
    BOLD,
  );
  if (invoice.lines.length === 0) drawRow(['Nothing billed.', '', '', '', ''], FONT);
  for (const line of invoice.lines) {
    drawRow(
      [
        pdfText(line.instance_tree),
        pdfText(resourceLabel(line.resource)),
        pdfText(quantityText(line)),
        pdfText(line.unit_price),
        pdfText(line.amount),
      ],
      FONT,
    );
  }
  doc.moveDown(0.5);
  doc
    .font(BOLD)
    .fontSize(11)
    .text(`Total: ${pdfText(totalText(invoice))}`, MARGIN, doc.y, {
      width: 495,
      align: 'right',
    });
  doc.end();
  return done;
}
