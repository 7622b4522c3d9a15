import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { parseKeyValues, readParametersFile } from './parameter-file.ts';

function usageError(run: () => unknown, message: RegExp): void {
  assert.throws(
    run,
    (error: unknown) =>
      error instanceof SlapError && error.code === 'SLAP_ERR_USAGE' && message.test(error.message),
  );
}

test('KEY=VALUE words split at the first =', () => {
  assert.deepEqual(parseKeyValues(['a=1', 'b=x=y', 'c='], '--parameters'), { a: '1', b: 'x=y', c: '' });
  assert.deepEqual(parseKeyValues(undefined, '--parameters'), {});
  usageError(
    () => parseKeyValues(['novalue'], '--parameters'),
    /--parameters: expected KEY=VALUE, got "novalue"/,
  );
  usageError(() => parseKeyValues(['=v'], '--node'), /--node: expected KEY=VALUE/);
  usageError(() => parseKeyValues(['a=1', 'a=2'], '--parameters'), /same key 'a'/);
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
    usageError(() => readParametersFile('list.json', dir), /must hold a JSON object/);
    writeFileSync(join(dir, 'bad.json'), '{"a": ');
    usageError(() => readParametersFile('bad.json', dir), /is not valid JSON/);
    writeFileSync(join(dir, 'bad.xml'), '<instance><parameter id="a"></instance>');
    usageError(() => readParametersFile('bad.xml', dir), /is not valid XML \(line 1\)/);
    writeFileSync(join(dir, 'noid.xml'), '<instance><parameter>v</parameter></instance>');
    usageError(() => readParametersFile('noid.xml', dir), /without an id/);
    writeFileSync(join(dir, 'p.yaml'), 'a: 1\n');
    usageError(() => readParametersFile('p.yaml', dir), /YAML parameter files are not supported/);
    usageError(
      () => readParametersFile('missing.json', dir),
      /cannot read the parameters file missing\.json/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
