/**
 * HTML built by tagged templates that escape every interpolated value: a value from a requester, a
 * node or a profile can never change the structure of a page. Only `Html` values (built by `html`
 * itself, or `trustedHtml` for constant markup) are inserted as they are. Attribute values in the
 * templates are always quoted, so escaping `"` and `'` keeps a value inside its attribute.
 */

/** Markup that is already safe to insert. */
export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text as HTML text or as a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character] ?? character);
}

/** Markup written by the panel itself (never a value from outside). */
export function trustedHtml(markup: string): Html {
  return new Html(markup);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.markup;
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return escapeHtml(value.toString());
  throw new TypeError('html: only strings, numbers, Html and arrays of them are interpolated');
}

/** `html\`<p>${text}</p>\``: interpolated strings are escaped; Html values and arrays of them are inserted. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let markup = strings[0] ?? '';
  for (let index = 0; index < values.length; index++)
    markup += render(values[index]) + (strings[index + 1] ?? '');
  return new Html(markup);
}

/**
 * A URL a link may point to: http(s) only (never `javascript:`, `data:`…), parsed and printed back
 * by the URL parser; undefined for anything else.
 */
export function linkableUrl(text: string): string | undefined {
  if (!/^https?:\/\//i.test(text)) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Outside text that may be long (an error, a log tail, a promise's output, a long value) in a block
 * that keeps its lines, wraps, and scrolls past a height: focusable, so that a keyboard can scroll it
 * too (axe: scrollable-region-focusable). Every `.text-block` of the panel is made here.
 */
export function textBlock(text: string, options: { id?: string; error?: boolean } = {}): Html {
  const id = options.id === undefined ? '' : html`id="${options.id}" `;
  const error = options.error === true ? ' error-message' : '';
  // Prettier would reflow the template, and a <pre> keeps every character of it.
  // prettier-ignore
  return html`<pre class="text-block${error}" ${id}tabindex="0">${text}</pre>`;
}
