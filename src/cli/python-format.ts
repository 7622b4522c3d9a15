/**
 * Renders JSON values the way the original `slapos` prints parameter dicts (Python's `pprint`):
 * `{'key': 'value'}`, sorted keys, `None`/`True`/`False`, one item per line when over 80 columns.
 */
import { compareCodePoints } from '../core/parameter-xml.ts';
import { pyRepr, pyStrRepr } from '../core/python-value.ts';

const WIDTH = 80;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value with every dict's keys sorted, as pprint prints them. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (!isRecord(value)) return value;
  const entries = Object.entries(value).sort(([a], [b]) => compareCodePoints(a, b));
  return Object.fromEntries(entries.map(([key, item]) => [key, sortedKeys(item)]));
}

function pformat(value: unknown, indent: number): string {
  const flat = pyRepr(value);
  if (flat.length + indent <= WIDTH) return flat;
  const pad = ' '.repeat(indent + 1);
  if (Array.isArray(value) && value.length > 0) {
    return `[${value.map((item) => pformat(item, indent + 1)).join(`,\n${pad}`)}]`;
  }
  if (isRecord(value) && Object.keys(value).length > 0) {
    const items = Object.entries(value).map(([key, item]) => {
      const keyRepr = `${pyStrRepr(key)}: `;
      return keyRepr + pformat(item, indent + 1 + keyRepr.length);
    });
    return `{${items.join(`,\n${pad}`)}}`;
  }
  return flat;
}

/** Python's `pprint.pformat(value)`: the repr, split one item per line when wider than 80 columns. */
export function pythonPformat(value: unknown): string {
  return pformat(sortedKeys(value), 0);
}
