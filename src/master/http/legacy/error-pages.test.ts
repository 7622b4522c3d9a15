import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlapError } from '../../../core/errors.ts';
import { errorPage, toLegacyFailure } from './error-pages.ts';

test("werkzeug's page: the status, its name and the message escaped as markupsafe escapes it", () => {
  assert.equal(
    errorPage(404, "No partition corresponding to slave request: ['http://nohost', 'computer', 'default']"),
    '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n' +
      '<p>No partition corresponding to slave request: [&#39;http://nohost&#39;, &#39;computer&#39;, &#39;default&#39;]</p>\n',
  );
  assert.equal(
    errorPage(400, '<b>&"x"\nnext'),
    '<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n' +
      '<p>&lt;b&gt;&amp;&#34;x&#34;<br>next</p>\n',
  );
});

test('statuses as the Python client reads them; lookups are never internal failures', () => {
  const allocation = toLegacyFailure(
    new SlapError('SLAP_ERR_ALLOCATION_FAILED', 'No free computer partition found for: x'),
  );
  assert.deepEqual(allocation, {
    status: 404,
    message: 'No free computer partition found for: x',
    internal: false,
  });
  const unknownNode = new SlapError('SLAP_ERR_COMPUTE_NODE_NOT_FOUND', 'c is not registered.');
  assert.deepEqual(toLegacyFailure(unknownNode, 500), {
    status: 500,
    message: 'c is not registered.',
    internal: false,
  });
  assert.equal(toLegacyFailure(unknownNode).status, 404);
  assert.equal(toLegacyFailure(new SlapError('SLAP_ERR_NOT_READY', 'Resource not ready')).status, 408);
  assert.equal(toLegacyFailure(new SlapError('SLAP_ERR_INVALID_INPUT', 'bad')).status, 400);
  assert.equal(toLegacyFailure(new SlapError('SLAP_ERR_PAYLOAD_TOO_LARGE', 'big')).status, 413);
  const bug = toLegacyFailure(new TypeError('secret detail'));
  assert.equal(bug.status, 500);
  assert.equal(bug.internal, true);
  assert.doesNotMatch(bug.message, /secret/);
});
