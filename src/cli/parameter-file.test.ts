import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throwsSlapError } from '../testing/slap-error-assert.ts';
import { parseKeyValues, readParametersFile } from './parameter-file.ts';

test('KEY=VALUE words split at the first =', () => {
  assert.deepEqual(parseKeyValues(['a=1', 'b=x=y', 'c='], '--parameters'), { a: '1', b: 'x=y', c: '' });
  assert.deepEqual(parseKeyValues(undefined, '--parameters'), {});
  throwsSlapError(
    () => parseKeyValues(['novalue'], '--parameters'),
    'SLAP_ERR_USAGE',
    /--parameters: expected KEY=VALUE, got "novalue"/,
  );
  throwsSlapError(() => parseKeyValues(['=v'], '--node'), 'SLAP_ERR_USAGE', /--node: expected KEY=VALUE/);
  throwsSlapError(() => parseKeyValues(['a=1', 'a=2'], '--parameters'), 'SLAP_ERR_USAGE', /same key 'a'/);
});

test('parameter files: JSON objects, parameter XML, and clear errors for the rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slapos-parameters-'));
  try {
    writeFileSync(join(dir, 'p.json'), '{"a": 1, "b": {"c": true}}');
    assert.deepEqual(readParametersFile('p.json', dir), { a: 1, b: { c: true } });
    writeFileSync(
      join(dir, 'p.xml'),
      `<?xml version='1.0' encoding='utf-8'?>\n<instance>\n  <parameter id="a">x &amp;lt; y</parameter>\n  <parameter id="empty"/>\n  <parameter id="_">{"k": 1}</parameter>\n</instance>\n`,
    );
    assert.deepEqual(readParametersFile(join(dir, 'p.xml'), '/'), {
      a: 'x &lt; y',
      empty: null,
      _: '{"k": 1}',
    });
    writeFileSync(join(dir, 'list.json'), '[1, 2]');
    throwsSlapError(() => readParametersFile('list.json', dir), 'SLAP_ERR_USAGE', /must hold a JSON object/);
    writeFileSync(join(dir, 'bad.json'), '{"a": ');
    throwsSlapError(() => readParametersFile('bad.json', dir), 'SLAP_ERR_USAGE', /is not valid JSON/);
    writeFileSync(join(dir, 'bad.xml'), '<instance><parameter id="a"></instance>');
    throwsSlapError(
      () => readParametersFile('bad.xml', dir),
      'SLAP_ERR_USAGE',
      /is not valid parameter XML: malformed/,
    );
    writeFileSync(join(dir, 'p.yaml'), 'a: 1\n');
    throwsSlapError(
      () => readParametersFile('p.yaml', dir),
      'SLAP_ERR_USAGE',
      /YAML parameter files are not supported/,
    );
    throwsSlapError(
      () => readParametersFile('missing.json', dir),
      'SLAP_ERR_USAGE',
      /cannot read the parameters file missing\.json/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
