/**
 * U+0000 in any string of any request, on the store this run tests (scripts/test.sh runs it on SQLite
 * and PostgreSQL). PostgreSQL's text cannot hold NUL, so the edge refuses it everywhere (the text
 * rules, core/text-rules.ts): every value and every key that holds one, at any depth of any valid
 * body, is a 400 with the API's error body on both stores — never a 500, never stored on one store
 * and refused by the other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiResponseProblem } from '../testing/api-schema.ts';
import { prepareValidBodiesMaster, VALID } from '../testing/api-valid-bodies.ts';
import { postJson, withTestMaster } from '../testing/master.ts';

/** Where NUL goes in a string: alone, inside, at either end. */
const WITH_NUL = [
  (s: string) => `${s}\u0000`,
  (s: string) => `\u0000${s}`,
  () => '\u0000',
  (s: string) => `${s.slice(0, 1)}\u0000${s.slice(1)}`,
];

/** Every variant of `value` with a NUL in exactly one string or one key, at any depth. */
function nulVariants(value: unknown, where = 'body'): { where: string; value: unknown }[] {
  if (typeof value === 'string')
    return WITH_NUL.map((inject, n) => ({ where: `${where}#${n}`, value: inject(value) }));
  if (Array.isArray(value)) {
    const items = value as unknown[];
    return items.flatMap((item, index) =>
      nulVariants(item, `${where}[${index}]`).map((variant) => ({
        where: variant.where,
        value: items.map((other, i): unknown => (i === index ? variant.value : other)),
      })),
    );
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    return entries.flatMap(([key, item], index) => [
      ...nulVariants(item, `${where}.${key}`).map((variant) => ({
        where: variant.where,
        value: Object.fromEntries(entries.map(([k, v], i) => [k, i === index ? variant.value : v])),
      })),
      {
        where: `${where} key ${key}`,
        value: Object.fromEntries(entries.map(([k, v], i) => [i === index ? `${k}\u0000` : k, v])),
      },
    ]);
  }
  return [];
}

test('a NUL anywhere in a request body is a 400 with the error body, on either store', async () => {
  await withTestMaster(async ({ url, api }) => {
    await prepareValidBodiesMaster(url, api);
    // With a parameter and an SLA entry, so that their keys and values get a NUL too.
    const bodies: Record<string, Record<string, unknown>> = {
      ...VALID,
      '/slapos.post.v0.software_instance': {
        ...VALID['/slapos.post.v0.software_instance'],
        sla_parameters: { computer_guid: 'computer', retention_delay: '1' },
      },
    };
    const failures: string[] = [];
    let count = 0;
    for (const [path, body] of Object.entries(bodies)) {
      for (const variant of nulVariants(body)) {
        const response = await postJson(url, path, variant.value);
        count++;
        // An unknown key of a format's partition or address is ignored, as the contract allows:
        // nothing of it is stored.
        const ignored = path.endsWith('compute_node_format') && / key /.test(variant.where);
        if (ignored && response.status === 200) continue;
        if (response.status !== 400 || apiResponseProblem(path, response.status, response.body) !== undefined)
          failures.push(`${path} ${variant.where}: ${response.status} ${response.text.slice(0, 160)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(count > 150, `only ${count} cases`);
    // The master still answers, from the state it had.
    const root = await api('/slapos.get.v0.software_instance', { instance_guid: 'Root______0' });
    assert.equal(root.status, 200);
  });
});
