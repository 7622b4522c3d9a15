import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quoteUrlPart, splitUrl } from './url-parts.ts';

test('URLs split as Python urlsplit does', () => {
  assert.deepEqual(splitUrl('https://[::1]:123/my/path?my=query&string=value#myanchor'), {
    scheme: 'https',
    netloc: '[::1]:123',
    path: '/my/path',
    query: 'my=query&string=value',
    fragment: 'myanchor',
  });
  assert.deepEqual(splitUrl('HTTP://host'), {
    scheme: 'http',
    netloc: 'host',
    path: '',
    query: '',
    fragment: '',
  });
  assert.deepEqual(splitUrl('/local/path?q'), {
    scheme: '',
    netloc: '',
    path: '/local/path',
    query: 'q',
    fragment: '',
  });
});

test('URL parts quote as werkzeug builds URLs', () => {
  assert.equal(quoteUrlPart('[::1]:123'), '%5B::1%5D:123');
  assert.equal(quoteUrlPart('/a b/é'), '/a%20b/%C3%A9');
  assert.equal(quoteUrlPart("a-._~$!'()*+,;/:@"), "a-._~$!'()*+,;/:%40");
});
