import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { packageRoot } from '../lib/package-root.ts';
import { loadApiSpec, loadExperimentalApiSpec, loadExtensionApiSpec } from './index.ts';
import { responseValidatorsSource } from './response-validators-codegen.ts';
import { apiResponseValidator } from './response-validators.ts';

test('the generated validators are up to date with the contract files (npm run api:validators)', () => {
  const file = join(packageRoot(), 'src', 'api', 'generated-response-validators.ts');
  assert.equal(readFileSync(file, 'utf8'), responseValidatorsSource());
});

test('the generated validators judge answers as ajv compiling the contract does, errors included', () => {
  const paths = {
    ...loadApiSpec().paths,
    ...loadExperimentalApiSpec().paths,
    ...loadExtensionApiSpec().paths,
  };
  const ajv = new Ajv({ strict: false, allErrors: true });
  const bodies: unknown[] = [
    {},
    [],
    null,
    'text',
    7,
    { title: 1, type: 'success' },
    { title: 'ok', type: 'success' },
    { result_list: [{ title: 'x' }], extra: true },
    { result_list: 'no' },
    { computer_guid: 'COMP-1', revision: -1, changed: 'yes' },
  ];
  for (const [path, item] of Object.entries(paths)) {
    const schema = item.post.responses['200']?.content?.['application/json'].schema ?? {};
    const { $id: _id, ...rest } = schema;
    const compiled = ajv.compile(rest);
    const generated = apiResponseValidator(path);
    assert.ok(generated, path);
    for (const body of bodies) {
      assert.equal(generated(body), compiled(body), `${path} ${JSON.stringify(body)}`);
      const summary = (errors: typeof compiled.errors): unknown =>
        errors?.map((e) => [e.instancePath, e.keyword, e.message]) ?? null;
      assert.deepEqual(
        summary(generated.errors),
        summary(compiled.errors),
        `${path} ${JSON.stringify(body)}`,
      );
    }
  }
  assert.equal(apiResponseValidator('/slapos.no.such.path'), undefined);
  assert.equal(apiResponseValidator('toString'), undefined);
});
