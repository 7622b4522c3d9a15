/**
 * `npm start` (`slapos standalone demo`) watches the master, the supervisor and the node agent
 * while it waits for the instance: when one dies it says which (and where its log is) and exits
 * non-zero at once, instead of waiting for its 300 s timeout and saying the instance did not answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { slaposBinPath } from '../src/lib/package-root.ts';
import { startTestStandalone } from '../src/testing/standalone.ts';

test('npm start: the node agent dies while it waits; it names the agent and its log, and exits non-zero', async (t) => {
  const sa = await startTestStandalone({ partitions: 2, prefix: 'sa-die-' });
  const { agent } = await sa.pids();
  // Frozen, the agent makes no progress: the demo is certainly still waiting when it is killed.
  process.kill(agent, 'SIGSTOP');
  t.after(async () => {
    try {
      process.kill(agent, 'SIGKILL');
    } catch {
      // already gone
    }
    await sa.close();
  });

  const demo = spawn(process.execPath, [slaposBinPath(), 'standalone', 'demo', '--dir', sa.dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  // Should it wait for its timeout instead, the test fails here rather than after 300 s.
  const deadline = setTimeout(() => demo.kill('SIGKILL'), 120_000);
  let stderr = '';
  let stdout = '';
  let killed = false;
  demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  demo.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!killed && stderr.includes('Requested instance "hello"')) {
      killed = true;
      process.kill(agent, 'SIGKILL');
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    demo.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  clearTimeout(deadline);

  assert.ok(killed, `the demo reached its wait: ${stderr}`);
  assert.equal(signal, null, `it exited by itself, before the test's deadline: ${stderr}`);
  assert.notEqual(code, 0);
  assert.match(
    stderr,
    new RegExp(
      `slapos: error: the node agent \\(pid ${agent}\\) stopped while waiting for the instance hello\\n`,
    ),
  );
  assert.ok(stderr.includes(`hint: see its log ${sa.layout.agentLog}`), stderr);
  assert.doesNotMatch(stderr, /did not answer in time/);
  assert.doesNotMatch(stdout, /is ready/);
});
