import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderErrorsDoc } from './errors-doc.ts';
import { SlapError, toSlapError } from './errors.ts';

test('docs/errors.md matches the catalog (regenerate with scripts/errors-doc.ts)', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderErrorsDoc());
});

test('SlapError carries its code, HTTP status and exit code', () => {
  const error = new SlapError('SLAP_ERR_ALLOCATION_FAILED', 'No free computer partition found for: x');
  assert.equal(error.status, 403);
  assert.equal(error.exitCode, 1);
  assert.equal(toSlapError(error), error);
  assert.equal(toSlapError(new Error('boom')).code, 'SLAP_ERR_INTERNAL');
});
