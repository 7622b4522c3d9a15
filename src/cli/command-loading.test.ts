/** The program registers the command files of the word it runs, every one for help or an unknown word. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS } from './commands/index.ts';
import { commandWord, createContext, createProgram } from './main.ts';

const argv = (...args: string[]): string[] => ['node', 'slapos', ...args];

test('the command word comes after the global options, the value of --log-file skipped', () => {
  assert.equal(commandWord(argv('service', 'list')), 'service');
  assert.equal(commandWord(argv('-v', '-v', '--log-file', 'request', 'supply', 'x')), 'supply');
  assert.equal(commandWord(argv('--logfile', 'a.log', '-q', 'node', 'format')), 'node');
  assert.equal(commandWord(argv('--log_file', 'a.log', 'node')), 'node');
  assert.equal(commandWord(argv('--log-file=a.log', '-vq', 'computer')), 'computer');
  assert.equal(commandWord(argv('--help')), undefined);
  assert.equal(commandWord(argv()), undefined);
});

test('only the files of the command that runs are loaded; all of them for help or an unknown word', async () => {
  const ctx = createContext({ stdout: process.stdout, stderr: process.stderr, env: {}, cwd: '/' });
  const names = async (...args: string[]): Promise<string[]> =>
    (await createProgram(ctx, argv(...args))).commands.map((command) => command.name()).sort();
  const everyWord = [...new Set(COMMANDS.map((entry) => entry.word))].sort();
  assert.deepEqual(await names('service', 'list'), ['service']);
  assert.deepEqual(await names('-v', 'request', 'x', 'y'), ['request']);
  // A group gets all its subcommands, as when every file is loaded.
  const subcommands = async (...args: string[]): Promise<string[]> =>
    ((await createProgram(ctx, argv(...args))).commands.find((c) => c.name() === 'node')?.commands ?? [])
      .map((command) => command.name())
      .sort();
  assert.deepEqual(await names('node', 'format'), ['node']);
  assert.deepEqual(await subcommands('node', 'format'), await subcommands('--help'));
  assert.ok((await subcommands('node')).includes('format'));
  for (const args of [['--help'], ['nope'], [], ['help', 'node']])
    assert.deepEqual(await names(...args), everyWord, args.join(' '));
});
