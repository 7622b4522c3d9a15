/**
 * The master validates request bodies with generated code (generated-request-validators.ts), not
 * with schemas compiled at start-up: it must be the code of today's contract and rules, and judge
 * every body as compiling the hardened schemas does, with the same first error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package-root.ts';
import { HOSTILE_PIECES, hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { ARRAY_CAPS } from './request-rules.ts';
import { compileRequestValidators, requestSchemas, requestValidatorsSource } from './request-schemas.ts';
import { requestValidator } from './validation.ts';
import { REQUEST_VALIDATORS } from './generated-request-validators.ts';

test('the generated request validators are up to date with the contract and the rules (npm run api:validators)', () => {
  const file = join(packageRoot(), 'src', 'master', 'http', 'generated-request-validators.ts');
  assert.equal(readFileSync(file, 'utf8'), requestValidatorsSource());
});

type Schema = Record<string, unknown>;

/** A value for `schema`: often valid, often not (wrong type, hostile or overlong text, extra keys). */
function valueFor(schema: Schema | undefined, random: () => number, depth = 0): unknown {
  const pick = random();
  if (depth > 3) return hostileString(random, 2);
  if (pick < 0.08) return [null, 7, 1.5, true, 'text', [], {}][Math.floor(random() * 7)];
  if (pick < 0.12) return hostileString(random);
  const type = schema?.type;
  if (Array.isArray(schema?.enum) && random() < 0.8)
    return schema.enum[Math.floor(random() * schema.enum.length)] as unknown;
  if (type === 'string' || (Array.isArray(type) && type.includes('string'))) {
    const lengths = [0, 1, 200, 201, 255, 256, 512, 513, 4096, 4097];
    if (random() < 0.3) return 'x'.repeat(lengths[Math.floor(random() * lengths.length)] ?? 1);
    return random() < 0.5 ? hostileString(random) : `value-${Math.floor(random() * 100)}`;
  }
  if (type === 'integer' || type === 'number')
    return [0, -1, 1, 50_000, 2 ** 53, 0.5][Math.floor(random() * 6)];
  if (type === 'boolean') return random() < 0.5;
  if (type === 'array') {
    const caps = [0, 1, 2, ...Object.values(ARRAY_CAPS).map((cap) => cap + 1)];
    const length = depth > 1 ? Math.floor(random() * 3) : (caps[Math.floor(random() * caps.length)] ?? 1);
    const items = schema?.items as Schema | undefined;
    return Array.from({ length }, () => valueFor(items, random, depth + 1));
  }
  return objectFor(schema, random, depth + 1);
}

function objectFor(schema: Schema | undefined, random: () => number, depth: number): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const properties = (schema?.properties ?? {}) as Record<string, Schema>;
  for (const [name, property] of Object.entries(properties))
    if (random() < 0.85) body[name] = valueFor(property, random, depth);
  if (random() < 0.1) body[hostileString(random, 2)] = 'extra';
  if (schema?.properties === undefined || random() < 0.2) {
    // A free dictionary (parameters, SLA): hostile keys and values.
    for (let index = 0; index < 3; index++)
      body[HOSTILE_PIECES[Math.floor(random() * HOSTILE_PIECES.length)] ?? 'k'] = valueFor(
        undefined,
        random,
        depth + 1,
      );
  }
  return body;
}

test('the generated validators judge bodies as the hardened schemas compiled now do, first error included', () => {
  const compiled = compileRequestValidators();
  const schemas = requestSchemas();
  assert.deepEqual(Object.keys(REQUEST_VALIDATORS).sort(), [...compiled.keys()].sort());
  const random = seededRandom(13);
  let refused = 0;
  let accepted = 0;
  for (const [path, compile] of compiled) {
    const generated = requestValidator(path);
    assert.ok(generated, path);
    for (let index = 0; index < 300; index++) {
      const body = index === 0 ? {} : valueFor(schemas[path], random);
      const valid = compile(body);
      const first = compile.errors?.[0];
      let message: string | undefined;
      try {
        generated(body);
      } catch (error) {
        message = (error as Error).message;
      }
      assert.equal(message === undefined, valid, `${path} ${JSON.stringify(body).slice(0, 300)}`);
      if (valid) accepted++;
      else {
        refused++;
        assert.ok(first);
        assert.ok(
          message?.startsWith(first.instancePath === '' ? 'body' : `body${first.instancePath}`),
          message,
        );
      }
    }
  }
  // The bodies exercise both outcomes.
  assert.ok(accepted > 100 && refused > 100, `${accepted} accepted, ${refused} refused`);
  assert.equal(requestValidator('/slapos.no.such.path'), undefined);
  assert.equal(requestValidator('toString'), undefined);
});

test("the master's text rules are part of the generated validators", () => {
  const request = requestValidator('/slapos.post.v0.software_instance');
  assert.ok(request);
  const body = (title: string, parameters: Record<string, unknown> = {}): unknown => ({
    title,
    software_release_uri: 'https://example.com/software.cfg',
    software_type: 'default',
    parameters,
    sla_parameters: {},
  });
  assert.doesNotThrow(() => request(body('a title')));
  assert.throws(() => request(body('x'.repeat(201))), {
    message: 'body/title must NOT have more than 200 characters',
  });
  assert.throws(() => request(body('')), /body\/title must NOT be empty/);
  assert.throws(
    () => request(body('ok', { ['k'.repeat(1025)]: 'v' })),
    /body\/parameters has a key longer than 1024 characters/,
  );
});
