/**
 * Declared commands run without a shell, in the partition root, with a clean environment; a failure
 * names the command and how it failed, with the end of its stderr; the first failure stops the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostileString, LINE_TERMINATORS, seededRandom } from '../../testing/hostile-strings.ts';
import { lastLine, runCommands, runPartitionCommand } from './partition-commands.ts';

async function partition(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'partition-commands-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

async function script(root: string, name: string, body: string): Promise<string> {
  const path = join(root, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

test('commands run in order in the partition root, without the node environment', async (t) => {
  const root = await partition(t);
  process.env.SLAPOS_BACKUP_SECRET_TEST = 'leak';
  t.after(() => void delete process.env.SLAPOS_BACKUP_SECRET_TEST);
  const one = await script(root, 'one', 'pwd > out; echo "${SLAPOS_BACKUP_SECRET_TEST:-none}" >> out');
  const two = await script(root, 'two', 'echo two >> out; printf "said\\n2 records, ok\\n\\n"');
  const said = await runCommands(runPartitionCommand, [one, two], {
    partitionRoot: root,
    kind: 'backup',
    timeoutMs: 10_000,
  });
  assert.equal(await readFile(join(root, 'out'), 'utf8'), `${root}\nnone\ntwo\n`);
  // What each command said last on stdout (the silent one: nothing).
  assert.deepEqual(said, ['2 records, ok']);
});

test('a failing command is named with its status and stderr, and stops the rest', async (t) => {
  const root = await partition(t);
  const bad = await script(root, 'bad', 'echo "first line" >&2; echo "database locked" >&2; exit 3');
  const never = await script(root, 'never', 'touch ran');
  await assert.rejects(
    runCommands(runPartitionCommand, [bad, never], { partitionRoot: root, kind: 'check', timeoutMs: 10_000 }),
    (error: Error) =>
      error.message.includes(`check command ${bad} exited with status 3`) &&
      error.message.includes('database locked'),
  );
  await assert.rejects(readFile(join(root, 'ran')));
  const slow = await script(root, 'slow', 'sleep 30');
  await assert.rejects(
    runPartitionCommand(slow, { partitionRoot: root, kind: 'restore', timeoutMs: 200 }),
    /did not finish within 0.2 s/,
  );
  await assert.rejects(
    runPartitionCommand(join(root, 'missing'), { partitionRoot: root, kind: 'backup', timeoutMs: 1000 }),
    /could not start/,
  );
});

test('lastLine: one line, no control characters, at most 200 characters, whatever a command prints', () => {
  const random = seededRandom(12);
  for (let run = 0; run < 2000; run++) {
    const text = hostileString(random, 30);
    const line = lastLine(text);
    assert.ok(line.length <= 200, JSON.stringify(text));
    assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u2028\u2029]/, JSON.stringify(text));
    assert.equal(line, line.trim());
  }
  for (const terminator of LINE_TERMINATORS)
    assert.equal(lastLine(`first${terminator}  2 records ${terminator}${terminator}`), '2 records');
  assert.equal(lastLine('x'.repeat(300)), 'x'.repeat(200));
  assert.equal(lastLine(''), '');
});
