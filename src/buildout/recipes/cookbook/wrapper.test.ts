import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { rejectsWithSlapError, throwsSlapError } from '../../../testing/slap-error-assert.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { shellQuote, shellSplit } from './shell.ts';

test('shellSplit and shellQuote follow Python shlex (POSIX mode)', () => {
  assert.deepEqual(shellSplit('a  b\n\tc'), ['a', 'b', 'c']);
  assert.deepEqual(shellSplit(`'x y' "a \\"b\\" \\n" c\\ d e''f ''`), ['x y', 'a "b" \\n', 'c d', 'ef', '']);
  assert.deepEqual(shellSplit('# not a comment'), ['#', 'not', 'a', 'comment']);
  throwsSlapError(() => shellSplit("it's"), 'SLAP_ERR_PROFILE', /No closing quotation/);
  throwsSlapError(() => shellSplit('x\\'), 'SLAP_ERR_PROFILE', /No escaped character/);
  assert.equal(shellQuote('/bin/a-b_c.d:1,2@3%+='), '/bin/a-b_c.d:1,2@3%+=');
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote("it's $HOME"), `'it'"'"'s $HOME'`);
  throwsSlapError(() => shellQuote('a\0b'), 'SLAP_ERR_PROFILE', /cannot hold a NUL character/);
});

test('wrapper writes the shell script of profiles.md §5.2 and runs the program with its arguments', async () => {
  const dir = await tempDir();
  try {
    const { run, spawned } = profileRunner(dir.path);
    const profile = (name: string): string => `[buildout]
parts = hello
[hello]
recipe = slapos.cookbook:wrapper
command-line =
  /bin/sh -c 'echo "$GREETING $0 $*"'
  --flag 'John Doe'
  ${name}
wrapper-path = \${buildout:directory}/etc/service/hello
environment =
  GREETING = Hello there
  A=1
`;
    const result = await run(profile('x'));
    assert.deepEqual(result.installed, ['hello']);
    const path = join(dir.path, 'etc/service/hello');
    assert.equal(
      await readFile(path, 'utf8'),
      [
        '#!/bin/sh -e',
        'export A=1',
        "export GREETING='Hello there'",
        'exec /bin/sh -c \'echo "$GREETING $0 $*"\' \\',
        '\t--flag \'John Doe\' x "$@"',
        '',
      ].join('\n'),
    );
    assert.equal((await stat(path)).mode & 0o777, 0o700);
    const ran = await execFile(path, ['extra arg']);
    assert.equal(ran.stdout.trim(), 'Hello there --flag John Doe x extra arg');

    // Nothing changed: update only checks the script exists, no process, no write.
    const before = (await stat(path)).mtimeMs;
    const again = await run(profile('x'));
    assert.deepEqual(again.updated, ['hello']);
    assert.equal((await stat(path)).mtimeMs, before);
    assert.deepEqual(spawned, []);

    // A changed command line reinstalls; a removed part's script is deleted.
    await run(profile('y'));
    assert.match(await readFile(path, 'utf8'), / y "\$@"/);
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(path), false);
  } finally {
    await dir.remove();
  }
});

test('wrapper: hash-existing-files and hash-files suffix the path; wait-for-files, pidfile, sig-ign', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'conf/existing.cfg': 'v1' });
    const { run } = profileRunner(dir.path);
    const profile = `[buildout]
parts = svc
[gen]
recipe = slapos.recipe.template
inline = generated
output = \${buildout:directory}/gen.txt
[svc]
recipe = slapos.cookbook:wrapper
command-line = /bin/echo ready
wrapper-path = \${buildout:directory}/bin/svc
hash-existing-files = \${buildout:directory}/conf/existing.cfg
hash-files = \${gen:output}
wait-for-files = \${gen:output}
pidfile = \${buildout:directory}/svc.pid
sig-ign = SIGHUP USR1
[show]
path = \${svc:wrapper-path}
`;
    await run(profile);
    const hash = createHash('md5');
    for (const content of ['generated', 'v1']) hash.update(`${content.length}\n${content}`);
    const path = join(dir.path, `bin/svc-${hash.digest('hex')}`);
    const script = await readFile(path, 'utf8');
    assert.match(script, /^#!\/bin\/sh -e\ntrap '' HUP USR1\n/);
    const ran = await execFile(path, []);
    assert.equal(ran.exitCode, 0, ran.stderr);
    assert.equal(ran.stdout, 'ready\n');
    assert.equal((await readFile(join(dir.path, 'svc.pid'), 'utf8')).trim() !== '', true);

    // The pidfile names a live process (this test's): the wrapper refuses to start.
    await writeFile(join(dir.path, 'svc.pid'), `${process.pid}\n`);
    const refused = await execFile(path, []);
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr, /Already running with pid/);

    // A changed existing file changes the part: reinstalled under a new name, the old one removed.
    await writeFile(join(dir.path, 'conf/existing.cfg'), 'v2');
    await run(profile);
    assert.equal(existsSync(path), false);

    // The script waits for the files of wait-for-files before running the program.
    const current = join(dir.path, `bin/svc-${createHash('md5').update('9\ngenerated2\nv2').digest('hex')}`);
    await rm(join(dir.path, 'gen.txt'));
    await rm(join(dir.path, 'svc.pid'));
    let output = '';
    const waiting = execFile(current, [], {
      onOutput: (_stream, chunk) => (output += chunk),
      timeoutMs: 60_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(output, '', 'nothing runs while the file is missing');
    await writeFile(join(dir.path, 'gen.txt'), 'generated');
    const waited = await waiting;
    assert.equal(waited.exitCode, 0);
    assert.equal(waited.stdout, 'ready\n');
  } finally {
    await dir.remove();
  }
});

test('wrapper refuses what needs the original Python launcher, and bad input, naming the section', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const base = '[buildout]\nparts = w\n[w]\nrecipe = slapos.cookbook:wrapper\nwrapper-path = w\n';
    await rejectsWithSlapError(
      run(`${base}command-line = /bin/true\nprivate-tmpfs = 1M \${buildout:directory}/tmp\n`),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /Initializing part w \(slapos\.cookbook:wrapper\): w:private-tmpfs: "private-tmpfs" is not supported/,
    );
    await rejectsWithSlapError(
      run(`${base}command-line = /bin/echo 'unclosed\n`),
      'SLAP_ERR_PROFILE',
      /w:command-line: cannot split the command line: No closing quotation/,
    );
    await rejectsWithSlapError(
      run(`${base}command-line =\n`),
      'SLAP_ERR_PROFILE',
      /the command line is empty/,
    );
    await rejectsWithSlapError(
      run(`${base}command-line = /bin/true\nenvironment = NOEQUALS\n`),
      'SLAP_ERR_PROFILE',
      /w:environment: expected NAME=value lines/,
    );
    await dir.write({ 'outside.txt': 'x' });
    const outside = await tempDir();
    try {
      await outside.write({ 'f.txt': 'x' });
      await rejectsWithSlapError(
        run(`${base}command-line = /bin/true\nhash-files = ${join(outside.path, 'f.txt')}\n`),
        'SLAP_ERR_PROFILE',
        /hash-files must only list files that are generated by buildout/,
      );
    } finally {
      await outside.remove();
    }
  } finally {
    await dir.remove();
  }
});

test('wrapper: a !py! str option is read as the string it evaluates to; a non-str one is a clear error', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const result = await run(`[buildout]
parts = promise-wrapper
[directory]
p = \${buildout:directory}/etc
[promise-wrapper]
recipe = slapos.cookbook:wrapper
command-line = /bin/true
wrapper-path = !py!'\${directory:p}/' + '\${:_buildout_section_name_}'[8:]
`);
    assert.deepEqual(result.installed, ['promise-wrapper']);
    assert.ok(existsSync(join(dir.path, 'etc/wrapper')));
    await rejectsWithSlapError(
      run(`[buildout]
parts = w
[w]
recipe = slapos.cookbook:wrapper
command-line = !py!['/bin/true']
wrapper-path = \${buildout:directory}/w
`),
      'SLAP_ERR_PROFILE',
      /w:command-line is a !py! list where a string is expected/,
    );
  } finally {
    await dir.remove();
  }
});
