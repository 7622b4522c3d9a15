import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { closedPort, tempDir } from '../../testing/buildout.ts';
import { runSlapos } from '../../testing/cli.ts';
import { ProgressRenderer, splitBuildoutArguments } from './buildout.ts';

const PROFILE = `[buildout]
parts = hello
[hello]
recipe = slapos.recipe.template
inline = Hello \${:who}
who = world
output = hello.txt
[other]
recipe = plone.recipe.command
command = echo other > other.txt
location = other.txt
`;

test('slapos buildout installs, re-runs, takes assignments and install PART…', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'buildout.cfg': PROFILE });
    const first = await runSlapos(['buildout'], { cwd: dir.path });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /^Installing hello\.$/m);
    assert.equal(await readFile(join(dir.path, 'hello.txt'), 'utf8'), 'Hello world');

    const second = await runSlapos(['buildout', '-c', 'buildout.cfg', '--json'], { cwd: dir.path });
    assert.equal(second.code, 0);
    assert.match(second.stderr, /^Updating hello\.$/m);
    assert.deepEqual((JSON.parse(second.stdout) as { updated: string[] }).updated, ['hello']);

    const assigned = await runSlapos(['buildout', 'hello:who=you', 'buildout:parts=hello other'], {
      cwd: dir.path,
    });
    assert.equal(assigned.code, 0, assigned.stderr);
    assert.match(assigned.stderr, /^Uninstalling hello\. \(changed\)$/m);
    assert.equal(await readFile(join(dir.path, 'hello.txt'), 'utf8'), 'Hello you');
    assert.ok(existsSync(join(dir.path, 'other.txt')));

    const only = await runSlapos(['buildout', 'install', 'hello'], { cwd: dir.path });
    assert.equal(only.code, 0, only.stderr);
    assert.match(only.stderr, /Keeping \(not selected\) other\./);
    assert.ok(existsSync(join(dir.path, 'other.txt')), 'install PART keeps the other installed parts');
  } finally {
    await dir.remove();
  }
});

test('slapos buildout reports bad input with a clear message and a non-zero exit code', async () => {
  const dir = await tempDir();
  const port = await closedPort();
  try {
    await dir.write({
      'syntax.cfg': '[buildout]\nparts = a\n[a]\nkey: value\n',
      'missing.cfg':
        '[buildout]\nparts = a\n[a]\nrecipe = slapos.recipe.template\ninline = ${nope:x}\noutput = a\n',
      'cycle.cfg': '[buildout]\nextends = cycle.cfg\n',
      'recipe.cfg': '[buildout]\nparts = a\n[a]\nrecipe = zc.recipe.egg\n',
      'offline.cfg': `[buildout]\nextends = http://127.0.0.1:${port}/x.cfg\n`,
    });
    const cases: [string[], number, RegExp][] = [
      [
        ['-c', 'syntax.cfg'],
        1,
        /syntax\.cfg:4: not an option, a section header or a comment \(written `key: value`/,
      ],
      [
        ['-c', 'missing.cfg'],
        1,
        /missing\.cfg:5: a:inline: \$\{nope:x\} refers to section \[nope\], which does not exist/,
      ],
      [['-c', 'cycle.cfg'], 1, /Recursive file include/],
      [['-c', 'recipe.cfg'], 1, /\[a\] recipe = zc\.recipe\.egg: unsupported recipe/],
      [['-c', 'offline.cfg'], 69, /Error downloading http:\/\/127\.0\.0\.1:\d+\/x\.cfg/],
      [['-c', 'offline.cfg', '-o'], 69, /in offline mode/],
      [['-c', 'nothere.cfg'], 1, /Couldn't open .*nothere\.cfg/],
      [['-c', 'syntax.cfg', 'bogus'], 5, /invalid command: bogus/],
      [['-c', 'syntax.cfg', 'a:b:c=1'], 5, /Invalid assignment/],
    ];
    for (const [args, code, message] of cases) {
      const run = await runSlapos(['buildout', ...args], { cwd: dir.path });
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^slapos: error: /m);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal(existsSync(join(dir.path, '.installed.cfg')), false, 'nothing recorded as installed');
  } finally {
    await dir.remove();
  }
});

test('buildout --help documents the command line', async () => {
  const run = await runSlapos(['buildout', '--help']);
  assert.equal(run.code, 0);
  for (const flag of [
    '-c, --config',
    '-o, --offline',
    '-N, --non-newest',
    '-U, --no-user-defaults',
    'install [PART',
  ]) {
    assert.ok(run.stdout.includes(flag), flag);
  }
});

test('arguments split into assignments, then install and parts', () => {
  assert.deepEqual(splitBuildoutArguments(['a:b=1', 'x=2', 'install', 'p1', 'p2']), {
    assignments: ['a:b=1', 'x=2'],
    parts: ['p1', 'p2'],
  });
  assert.deepEqual(splitBuildoutArguments([]), { assignments: [], parts: [] });
  assert.throws(() => splitBuildoutArguments(['annotate']), /invalid command: annotate/);
});

test('the progress renderer prints lines when not on a terminal and a status line on one', () => {
  const capture = (tty: boolean, verbose = false): { text: () => string; renderer: ProgressRenderer } => {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
    stream.isTTY = tty;
    stream.columns = 60;
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString()));
    return { text: () => chunks.join(''), renderer: new ProgressRenderer(stream, verbose) };
  };
  const events = [
    { type: 'part', part: 'gcc', action: 'installing', recipe: 'slapos.recipe.cmmi' },
    { type: 'download', url: 'http://x/gcc.tar.xz', received: 10, total: 100, done: false },
    { type: 'download', url: 'http://x/gcc.tar.xz', received: 50, total: 100, done: false },
    { type: 'download', url: 'http://x/gcc.tar.xz', received: 100, total: 100, done: true },
    { type: 'step', part: 'gcc', step: 'make' },
    { type: 'output', part: 'gcc', stream: 'stdout', line: 'cc -c a.c' },
    { type: 'warning', part: 'gcc', message: 'careful' },
  ] as const;
  const plain = capture(false);
  for (const e of events) plain.renderer.handle(e);
  assert.equal(
    plain.text(),
    'Installing gcc.\n  Downloading http://x/gcc.tar.xz\n  Downloaded http://x/gcc.tar.xz (100 B)\n  gcc: make\nWarning: gcc: careful\n',
  );
  const verbose = capture(false, true);
  for (const e of events) verbose.renderer.handle(e);
  assert.match(verbose.text(), / {2}gcc\| cc -c a\.c\n/);
  const tty = capture(true);
  for (const e of events) tty.renderer.handle(e);
  assert.match(tty.text(), /\r\x1b\[2K {2}Downloading http:\/\/x\/gcc\.tar\.xz 50 B \/ 100 B/);
  assert.match(tty.text(), /\r\x1b\[2K {2}gcc\| cc -c a\.c/);
});
