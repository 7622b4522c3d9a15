/**
 * What a browser submits for a form's markup, for the markup the panel writes (double-quoted
 * attributes, escaped text): the page travels as UTF-8 (lone surrogates become U+FFFD), the HTML
 * parser turns CR LF and CR into LF and NUL into U+FFFD, drops the newline right after
 * `<textarea>`; text inputs lose their line breaks (email and url inputs also their surrounding
 * whitespace), number inputs their value if it is not a valid number, unchecked checkboxes are not
 * sent, a select sends its selected option (else its first); every line break is sent as CR LF.
 * Used by property tests of forms that must give values back exactly.
 */

import { PanelForm } from '../master/panel/panel-routes.ts';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X'))
      return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });
}

function attributes(tag: string): Map<string, string> {
  const found = new Map<string, string>();
  const body = tag.replace(/^<[a-z]+/i, '').replace(/\/?>$/, '');
  for (const match of body.matchAll(/([a-zA-Z-]+)(?:="([^"]*)")?/g)) {
    const name = (match[1] as string).toLowerCase();
    if (!found.has(name)) found.set(name, decode(match[2] ?? ''));
  }
  return found;
}

const VALID_FLOAT = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The successful controls of `markup`, in order, as name/value pairs. */
export function submittedEntries(markup: string): [string, string][] {
  const page = Buffer.from(markup, 'utf8')
    .toString('utf8')
    .replace(/\r\n?/g, '\n')
    .replaceAll('\0', '\ufffd');
  const entries: [string, string][] = [];
  const controls =
    /<input\b[^>]*>|<textarea\b[^>]*>([\s\S]*?)<\/textarea>|<select\b[^>]*>([\s\S]*?)<\/select>/gi;
  for (const match of page.matchAll(controls)) {
    const whole = match[0];
    const tag = /^<[a-z]+\b[^>]*>/i.exec(whole)?.[0] ?? '';
    const attrs = attributes(tag);
    const name = attrs.get('name');
    if (name === undefined || attrs.has('disabled')) continue;
    if (whole.toLowerCase().startsWith('<textarea')) {
      const text = decode(match[1] ?? '');
      entries.push([name, text.startsWith('\n') ? text.slice(1) : text]);
    } else if (whole.toLowerCase().startsWith('<select')) {
      const options = [...(match[2] ?? '').matchAll(/<option\b[^>]*>/gi)].map((option) =>
        attributes(option[0]),
      );
      const chosen = options.find((option) => option.has('selected')) ?? options[0];
      if (chosen) entries.push([name, chosen.get('value') ?? '']);
    } else {
      const type = (attrs.get('type') ?? 'text').toLowerCase();
      let value = attrs.get('value') ?? '';
      if (type === 'checkbox' || type === 'radio') {
        if (attrs.has('checked')) entries.push([name, attrs.has('value') ? value : 'on']);
        continue;
      }
      if (type === 'submit' || type === 'button' || type === 'reset') continue;
      if (type === 'text' || type === 'search' || type === 'email' || type === 'url' || type === 'password')
        value = value.replace(/[\r\n]/g, '');
      if (type === 'email' || type === 'url') value = value.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '');
      if (type === 'number' && !VALID_FLOAT.test(value)) value = '';
      entries.push([name, value]);
    }
  }
  return entries.map(([name, value]) => [name, value.replace(/\r\n|\r|\n/g, '\r\n')]);
}

/** The form as the panel hands it to a page (fields in order, names repeated). */
export function submittedForm(markup: string): PanelForm {
  return new PanelForm(submittedEntries(markup));
}
