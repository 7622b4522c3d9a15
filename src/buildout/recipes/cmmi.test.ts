import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { execFile } from '../../lib/exec.ts';
import { profileRunner, serveDirectory, tempDir, type TempDir } from '../../testing/buildout.ts';

const CONFIGURE = `#!/bin/sh
prefix=/usr/local
greeting=Hello
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix="\${arg#--prefix=}" ;;
    --with-greeting=*) greeting="\${arg#--with-greeting=}" ;;
  esac
done
echo "checking for a C compiler... \${CC:-cc}"
printf 'PREFIX = %s\\nGREETING = %s\\n' "$prefix" "$greeting" > config.mk
echo "configured for $prefix"
`;

const MAKEFILE = `include config.mk
hello: hello.c
\t$(CC) -DGREETING='"$(GREETING)"' -o hello hello.c
install: hello
\tmkdir -p $(PREFIX)/bin
\tcp hello $(PREFIX)/bin/hello
.PHONY: install
`;

const HELLO =
  '#include <stdio.h>\nint main(void) { printf("%s from %s\\n", GREETING, "world"); return 0; }\n';

/** Makes `<name>.tar.gz` (a configure script, a Makefile, hello.c) in `site`; returns its md5. */
async function makeTarball(site: TempDir, name: string, hello: string): Promise<string> {
  await site.write({
    [`src/${name}/configure`]: CONFIGURE,
    [`src/${name}/Makefile`]: MAKEFILE,
    [`src/${name}/hello.c`]: hello,
  });
  const pack = await execFile(
    '/bin/sh',
    ['-c', `chmod 755 src/${name}/configure && cd src && tar -czf ../${name}.tar.gz ${name}`],
    {
      cwd: site.path,
    },
  );
  assert.equal(pack.exitCode, 0, pack.stderr);
  return createHash('md5')
    .update(await readFile(join(site.path, `${name}.tar.gz`)))
    .digest('hex');
}

test('slapos.recipe.cmmi builds a C program from a tarball over HTTP (md5 checked, patched), then a re-run does nothing', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  const md5 = await makeTarball(site, 'hello-1.0', HELLO);
  await site.write({
    'hello.patch':
      '--- hello.c\n+++ hello.c\n@@ -1,2 +1,2 @@\n #include <stdio.h>\n-int main(void) { printf("%s from %s\\n", GREETING, "world"); return 0; }\n+int main(void) { printf("%s from %s\\n", GREETING, "patched world"); return 0; }\n',
  });
  const patchMd5 = createHash('md5')
    .update(await readFile(join(site.path, 'hello.patch')))
    .digest('hex');
  const server = await serveDirectory(site.path);
  try {
    const { run, spawned, events } = profileRunner(dir.path);
    const text = `[buildout]
parts = hello
[hello]
recipe = slapos.recipe.cmmi
url = ${server.url}/hello-1.0.tar.gz
md5sum = ${md5}
configure-options =
  --with-greeting=Hi
environment =
  CC = gcc
patches = ${server.url}/hello.patch#${patchMd5}
post-install = test -x \${buildout:parts-directory}/\${:_buildout_section_name_}/bin/hello
`;
    const result = await run(text);
    assert.deepEqual(result.installed, ['hello']);
    const binary = join(dir.path, 'parts', 'hello', 'bin', 'hello');
    const out = await execFile(binary, []);
    assert.equal(out.stdout, 'Hi from patched world\n');
    const steps = events.flatMap((e) => (e.type === 'step' ? [e.step] : []));
    assert.deepEqual(steps, [
      'download',
      'unpack',
      'patch hello.patch',
      'configure',
      'make',
      'make install',
      'post-install',
    ]);
    assert.ok(
      events.some((e) => e.type === 'output' && e.line === 'checking for a C compiler... gcc'),
      'environment reaches the build',
    );
    assert.ok(events.some((e) => e.type === 'download' && e.done));
    assert.deepEqual(await readdir(join(dir.path, 'parts')), ['hello'], 'the compile directory is removed');

    spawned.length = 0;
    const again = await run(text);
    assert.deepEqual(again.updated, ['hello']);
    assert.deepEqual(spawned, [], 're-run: no process spawned');

    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'parts', 'hello')), false);
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});

test('a failing build reports the failing step and its output tail; nothing is recorded or left behind', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  const md5 = await makeTarball(
    site,
    'broken-1.0',
    '#include <stdio.h>\nint main(void) { this is not C; }\n',
  );
  const server = await serveDirectory(site.path);
  try {
    const { run } = profileRunner(dir.path);
    await assert.rejects(
      run(
        `[buildout]\nparts = broken\n[broken]\nrecipe = slapos.recipe.cmmi\nurl = ${server.url}/broken-1.0.tar.gz\nmd5sum = ${md5}\n`,
      ),
      (error: unknown) => {
        assert.ok(error instanceof SlapError);
        assert.equal(error.code, 'SLAP_ERR_RECIPE_FAILED');
        assert.match(
          error.message,
          /^Installing part broken \(slapos\.recipe\.cmmi\): make \(make\) exited with 2; last output:\n/,
        );
        assert.match(error.message, /hello\.c:2:.*error/);
        return true;
      },
    );
    assert.equal(existsSync(join(dir.path, '.installed.cfg')), false);
    assert.deepEqual(await readdir(join(dir.path, 'parts')), []);
    await assert.rejects(
      run(
        `[buildout]\nparts = broken\n[broken]\nrecipe = slapos.recipe.cmmi\nurl = ${server.url}/broken-1.0.tar.gz\nmd5sum = 00000000000000000000000000000000\n`,
      ),
      /MD5 checksum mismatch/,
    );
    await assert.rejects(
      run(
        '[buildout]\nparts = x\n[x]\nrecipe = slapos.recipe.cmmi\nurl = http://127.0.0.1/x.tar.gz\npost-make-hook = mod:func\n',
      ),
      (error: unknown) =>
        error instanceof SlapError &&
        error.code === 'SLAP_ERR_RECIPE_UNSUPPORTED' &&
        /x:post-make-hook: post-make-hook is a Python function/.test(error.message),
    );
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});

test('shared = true builds once into a content-addressed directory of shared-part-list and keeps it', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  const md5 = await makeTarball(site, 'hello-1.0', HELLO);
  const server = await serveDirectory(site.path);
  try {
    const shared = join(dir.path, 'shared');
    const { run, spawned } = profileRunner(dir.path);
    const text = `[buildout]\nparts = hello\nshared-part-list = ${shared}\n[hello]\nrecipe = slapos.recipe.cmmi\nshared = true\nurl = ${server.url}/hello-1.0.tar.gz\nmd5sum = ${md5}\n[print]\nlocation = \${hello:location}\n`;
    await run(text);
    const [hash] = await readdir(join(shared, 'hello'));
    assert.match(hash ?? '', /^[0-9a-f]{32}$/);
    assert.ok(existsSync(join(shared, 'hello', hash ?? '', 'bin', 'hello')));
    await run('[buildout]\nparts =\n');
    assert.ok(existsSync(join(shared, 'hello', hash ?? '', 'bin', 'hello')), 'shared parts are not deleted');
    spawned.length = 0;
    await run(text);
    assert.deepEqual(spawned, [], 'an already built shared part is reused');
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});
