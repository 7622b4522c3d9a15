/**
 * Renders JSON values the way the original `slapos` prints parameter dicts (Python's `pprint`):
 * `{'key': 'value'}`, sorted keys, `None`/`True`/`False`, one item per line when over 80 columns.
 */

const WIDTH = 80;

/** Python's `repr()` of a str. */
export function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '\\') out += '\\\\';
    else if (char === quote) out += `\\${quote}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return out + quote;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sortedEntries(value: Record<string, unknown>): [string, unknown][] {
  return Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Python's `repr()` of the value, on one line. */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pythonStringRepr(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'inf' : '-inf';
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (isRecord(value)) {
    return `{${sortedEntries(value)
      .map(([key, item]) => `${pythonStringRepr(key)}: ${pythonRepr(item)}`)
      .join(', ')}}`;
  }
  if (typeof value === 'bigint') return value.toString();
  return 'None'; // not a JSON value
}

/** Python's `pprint.pformat(value)`: the repr, split one item per line when wider than 80 columns. */
export function pythonPformat(value: unknown, indent = 0): string {
  const flat = pythonRepr(value);
  if (flat.length + indent <= WIDTH) return flat;
  const pad = ' '.repeat(indent + 1);
  if (Array.isArray(value) && value.length > 0) {
    return `[${value.map((item) => pythonPformat(item, indent + 1)).join(`,\n${pad}`)}]`;
  }
  if (isRecord(value) && Object.keys(value).length > 0) {
    const items = sortedEntries(value).map(([key, item]) => {
      const keyRepr = `${pythonStringRepr(key)}: `;
      return keyRepr + pythonPformat(item, indent + 1 + keyRepr.length);
    });
    return `{${items.join(`,\n${pad}`)}}`;
  }
  return flat;
}
