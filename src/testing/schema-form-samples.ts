/**
 * Samples for the schema form's property tests (src/master/panel/schema-form.test.ts and the
 * real-browser test in e2e/): an input schema with every kind of field and random parameters for
 * it, hostile strings everywhere (keys too).
 */
import type { JsonObject } from '../lib/json-schema.ts';
import type { Parameters } from '../master/panel/schema-form.ts';
import type { InputSchema, SoftwareTypeEntry } from '../master/services/software-schema.ts';
import { hostileString } from './hostile-strings.ts';

const BASE = 'https://example.invalid/release/';

export const ENTRY: SoftwareTypeEntry = {
  key: 'default',
  softwareType: 'default',
  title: 'Default',
  description: '',
  shared: false,
  index: 0,
  serialisation: 'xml',
  request: `${BASE}input.json`,
};

export function inputSchema(schema: JsonObject, others: Record<string, JsonObject> = {}): InputSchema {
  const url = `${BASE}input.json`;
  const documents = new Map<string, JsonObject>([[url, { ...schema, $id: url }]]);
  for (const [name, document] of Object.entries(others))
    documents.set(`${BASE}${name}`, { ...document, $id: `${BASE}${name}` });
  return { entry: ENTRY, url, schema: documents.get(url) as JsonObject, documents };
}

/** A random JSON value (for keys the schema does not describe). */
export function randomJson(random: () => number, depth = 0): unknown {
  const kind = Math.floor(random() * (depth > 2 ? 4 : 6));
  switch (kind) {
    case 0:
      return hostileString(random);
    case 1:
      return Math.round((random() - 0.5) * 1e6) / 100;
    case 2:
      return random() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: Math.floor(random() * 3) }, () => randomJson(random, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 3) }, () => [
          hostileString(random, 3),
          randomJson(random, depth + 1),
        ]),
      );
  }
}

export const ROUND_TRIP = inputSchema({
  type: 'object',
  properties: {
    text: { type: 'string' },
    mail: { type: 'string', format: 'email' },
    count: { type: 'integer' },
    ratio: { type: 'number' },
    flag: { type: 'boolean' },
    choice: { enum: ['a', 'b', 1, null] },
    list: { type: 'array', items: { type: 'string' } },
    numbers: { type: 'array', items: { type: 'number' } },
    group: { type: 'object', properties: { inner: { type: 'string' }, ['__proto__']: { type: 'string' } } },
    free: {},
  },
});

export function randomParameters(random: () => number): Parameters {
  const maybe = (make: () => unknown): unknown => (random() < 0.75 ? make() : undefined);
  const values: Record<string, unknown> = {
    text: maybe(() => hostileString(random)),
    mail: maybe(() => hostileString(random)),
    count: maybe(() => Math.round((random() - 0.5) * 1e9)),
    ratio: maybe(() => (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20)),
    flag: maybe(() => random() < 0.5),
    choice: maybe(() => ['a', 'b', 1, null][Math.floor(random() * 4)]),
    list: maybe(() => Array.from({ length: Math.floor(random() * 4) }, () => hostileString(random, 4))),
    numbers: maybe(() =>
      Array.from({ length: Math.floor(random() * 4) }, () => Math.round(random() * 1e4) / 8),
    ),
    group: maybe(() => {
      const group: Record<string, unknown> = {};
      if (random() < 0.7) group.inner = hostileString(random);
      if (random() < 0.3) Object.defineProperty(group, '__proto__', { value: 'p', enumerable: true });
      return group;
    }),
    free: maybe(() => randomJson(random)),
  };
  if (random() < 0.3) values[hostileString(random, 4) || 'extra'] = randomJson(random);
  const parameters: Parameters = {};
  for (const [key, value] of Object.entries(values))
    if (value !== undefined)
      Object.defineProperty(parameters, key, { value, enumerable: true, writable: true, configurable: true });
  return parameters;
}
