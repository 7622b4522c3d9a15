import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { makeTempDir } from '../testing/node.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';
import { acquirePidLock, isLiveNodeProcess, lockHolder } from './pid-lock.ts';

test('a pidfile lock is exclusive while its holder lives, and released by its holder', async () => {
  const dir = await makeTempDir('pid-lock-');
  const path = join(dir, 'run', 'slapgrid-cp.pid');
  const lock = await acquirePidLock(path, { what: 'node instance' });
  assert.equal((await readFile(path, 'utf8')).trim(), String(process.pid));
  // Another live node process holds it: refused (exit code 10 as the original).
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const otherPid = other.pid ?? 0;
    assert.ok(isLiveNodeProcess(otherPid));
    await lock.release();
    assert.equal(existsSync(path), false);
    await acquirePidLock(path, { pid: otherPid });
    const error = await rejectsWithSlapError(
      acquirePidLock(path, { what: 'node instance' }),
      'SLAP_ERR_LOCKED',
    );
    assert.match(
      error.message,
      new RegExp(`another node instance process is already running \\(pid ${otherPid}`),
    );
    assert.equal(error.exitCode, 10);
  } finally {
    other.kill('SIGKILL');
    await new Promise((resolve) => other.once('exit', resolve));
  }
  // Its holder died: the lock is stale and taken over.
  const taken = await acquirePidLock(path);
  assert.equal((await readFile(path, 'utf8')).trim(), String(process.pid));
  await taken.release();
  await taken.release();

  // A pid reused by a process that is neither node nor slapos is stale too.
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    await writeFile(path, `${sleeper.pid ?? 0}\n`);
    const again = await acquirePidLock(path);
    await again.release();
    assert.equal(existsSync(path), false);
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('lockHolder: the live holder, else nothing; a stale lock is left as it is', async () => {
  const dir = await makeTempDir('pid-lock-');
  const path = join(dir, 'agent.pid');
  assert.equal(await lockHolder(path), undefined);
  await writeFile(path, '4242\n');
  assert.equal(await lockHolder(path, (pid) => pid === 4242), 4242);
  assert.equal(await lockHolder(path, () => false), undefined);
  assert.ok(existsSync(path), 'not removed');
  for (const garbage of ['', 'x', '-3\n', '1.5', '\u2028']) {
    await writeFile(path, garbage);
    assert.equal(await lockHolder(path, () => true), undefined, JSON.stringify(garbage));
  }
});
