/**
 * `npm start` on this checkout: starts the standalone SlapOS (in $SLAPOS_STANDALONE_DIR here),
 * deploys examples/hello and prints its connection parameters once its URL answers; a second run is
 * quick and finds everything in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { execFile } from '../src/lib/exec.ts';
import { packageRoot } from '../src/lib/package-root.ts';
import { runSlaposProcess, shortTempDir, waitForAnswer } from '../src/testing/standalone.ts';

test('npm start deploys examples/hello and prints its URL; again, it is quick and idempotent', async () => {
  const dir = await shortTempDir('sa-npm-');
  try {
    const first = await execFile('npm', ['start', '--silent'], {
      cwd: packageRoot(),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SLAPOS_STANDALONE_DIR: dir },
      timeoutMs: 240_000,
    });
    assert.equal(first.exitCode, 0, first.stderr);
    assert.match(first.stderr, /Master started at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(first.stderr, /Supplied .*examples\/hello\/software\.cfg/);
    assert.match(first.stderr, /Requested instance "hello" \(name=World\)/);
    assert.match(first.stdout, /Instance "hello" is ready/);
    assert.match(first.stdout, /^ {2}name = Hello World!$/m);
    const url = /^ {2}url = (http:\/\/\S+)$/m.exec(first.stdout)?.[1];
    assert.ok(url, first.stdout);
    assert.match(
      first.stdout,
      /npx slapos request hello-alice .* --parameters name=Alice --cfg \S+\/etc\/slapos\.cfg/,
    );
    assert.equal(await waitForAnswer(url, 'Hello World!'), 'Hello World!');

    const second = await runSlaposProcess(['standalone', 'demo', '--dir', dir, '--json']);
    assert.equal(second.exitCode, 0, second.stderr);
    const result = JSON.parse(second.stdout) as { connection_parameters: { url: string }; answer: string };
    assert.equal(result.connection_parameters.url, url);
    assert.equal(result.answer, 'Hello World!');
  } finally {
    await runSlaposProcess(['standalone', 'stop', '--dir', dir], { timeoutMs: 120_000 });
    await rm(dir, { recursive: true, force: true });
  }
});
