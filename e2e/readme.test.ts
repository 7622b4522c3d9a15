/**
 * What the README tells people to run by hand leaves nothing behind: the supervisor that
 * `node instance` leaves running is stopped by the command the README gives, and the README's
 * `proxy.db` is ignored by git.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../src/lib/exec.ts';
import { packageRoot } from '../src/lib/package-root.ts';
import { runSlapos } from '../src/testing/cli.ts';
import { pidAlive, tempDir, waitFor } from '../src/testing/supervisor.ts';

const README = join(packageRoot(), 'README.md');

test('the README says node instance leaves the supervisor running, and its stop command stops it', async (t) => {
  const readme = await readFile(README, 'utf8');
  assert.match(readme, /`node instance` starts the node's supervisor[^]*leaves\s+it running/);
  const command = /^npx slapos (node supervisorctl --cfg ~\/slapos\/slapos\.cfg shutdown)\b/m.exec(
    readme,
  )?.[1];
  assert.ok(command, 'the README gives the command that stops the supervisor');

  const dir = await tempDir();
  t.after(() => dir.remove());
  const cfg = join(dir.path, 'slapos.cfg');
  await writeFile(cfg, `[slapos]\ninstance_root = ${dir.path}\n`);
  const started = await runSlapos(['node', 'supervisord', '--instance-root', dir.path, '--json']);
  assert.equal(started.code, 0, started.stderr);
  const { pid } = JSON.parse(started.stdout) as { pid: number };
  t.after(() => {
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  const stop = await runSlapos(command.replace('~/slapos/slapos.cfg', cfg).split(' '));
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout, 'Shut down\n');
  await waitFor('the supervisor exited', () => Promise.resolve(!pidAlive(pid)));
});

test("the README's proxy.db (and its WAL files) are ignored by git", async () => {
  const readme = await readFile(README, 'utf8');
  assert.match(readme, /--database \.\/proxy\.db/);
  const ignored = await execFile(
    'git',
    ['check-ignore', '--no-index', '--verbose', 'proxy.db', 'proxy.db-wal', 'proxy.db-shm'],
    { cwd: packageRoot(), timeoutMs: 30_000 },
  );
  assert.equal(ignored.exitCode, 0, ignored.stderr);
  assert.equal(ignored.stdout.trim().split('\n').length, 3, ignored.stdout);
});
