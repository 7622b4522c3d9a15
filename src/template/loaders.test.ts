import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSlapError } from '../core/errors.ts';
import { prefixLoader } from './loaders.ts';
import { renderTemplate } from './index.ts';

test('prefixLoader resolves import-list files and folders like the recipe', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tpl-loader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'caucase.jinja2'), '{% macro hi() %}hi from file{% endmacro %}');
  mkdirSync(join(dir, 'lib', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'lib', 'sub', 'part.in'), 'part {{ x }}');
  writeFileSync(join(dir, 'lib', 'sub', 'leaf'), 'leaf');
  writeFileSync(join(dir, 'secret'), 'outside');
  const loader = prefixLoader({
    caucase: { kind: 'file', path: join(dir, 'caucase.jinja2') },
    lib: { kind: 'folder', path: join(dir, 'lib') },
  });
  const options = { loader, undefined: 'strict' as const };
  assert.equal(renderTemplate("{% import 'caucase' as c %}{{ c.hi() }}", {}, options), 'hi from file');
  assert.equal(renderTemplate("{% import 'caucase/' as c %}{{ c.hi() }}", {}, options), 'hi from file');
  assert.equal(renderTemplate("{% include 'lib/sub/part.in' %}", { x: 1 }, options), 'part 1');
  assert.equal(loader('caucase/extra'), null);
  assert.equal(loader('lib/../secret'), null);
  assert.equal(loader('lib/nope'), null);
  assert.equal(loader('unknown'), null);
  try {
    renderTemplate("{% include 'lib/../secret' %}", {}, options);
    assert.fail('expected TemplateNotFound');
  } catch (e) {
    assert.ok(isSlapError(e));
    assert.match(e.message, /TemplateNotFound: lib\/..\/secret/);
  }
  const dotted = prefixLoader({ lib: { kind: 'folder', path: join(dir, 'lib') } }, { delimiter: '.' });
  assert.equal(dotted('lib.sub.part.in'), null, 'with "." as delimiter, part.in is two path components');
  assert.deepEqual(dotted('lib.sub.leaf'), { source: 'leaf', filename: join(dir, 'lib', 'sub', 'leaf') });
  assert.equal(dotted('lib.sub'), null, 'a folder is not a template');
});
