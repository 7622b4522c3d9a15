import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requiredOptionsMessage } from './service-main.ts';

test('requiredOptionsMessage names every option, as the original services do', () => {
  assert.equal(requiredOptionsMessage(['keygen']), '--keygen is required');
  assert.equal(requiredOptionsMessage(['request-dir', 'keygen']), '--request-dir and --keygen are required');
  assert.equal(
    requiredOptionsMessage(['key', 'certificate', 'openssl', 'config', 'request-dir']),
    '--key, --certificate, --openssl, --config and --request-dir are required',
  );
});

test('a service main missing an option exits 2 with the message, before running anything', () => {
  const main = fileURLToPath(new URL('./sshkeys-authority-main.js', import.meta.url));
  const result = spawnSync(process.execPath, [main, '--keygen', '/bin/false'], { encoding: 'utf8' });
  assert.equal(result.status, 2);
  assert.equal(result.stderr, 'sshkeys_authority: --request-dir and --keygen are required\n');
});
