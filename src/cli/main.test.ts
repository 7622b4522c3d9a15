import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSlapos } from '../testing/cli.ts';

test('--help prints usage and exits 0', async () => {
  const run = await runSlapos(['--help']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /Usage: slapos/);
});

test('--version prints the package version', async () => {
  const run = await runSlapos(['--version']);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^\d+\.\d+\.\d+/);
});

test('an unknown command exits 5 with a message, as the original slapos does', async () => {
  const run = await runSlapos(['no-such-command']);
  assert.equal(run.code, 5);
  assert.match(run.stderr, /error: (unknown command|too many arguments)/);
});
