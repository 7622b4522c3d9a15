import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { execFile } from '../../lib/exec.ts';
import { profileRunner, serveDirectory, tempDir } from '../../testing/buildout.ts';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

test('slapos.recipe.build:download: location/target, #md5 suffix, filename, destination, mode, cache', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  await site.write({ 'files/tool.sh': '#!/bin/sh\necho tool\n', 'files/data.json': '{"a": 1}' });
  const server = await serveDirectory(site.path);
  try {
    const { run } = profileRunner(dir.path);
    const text = `[buildout]
parts = user
download-cache = \${buildout:directory}/download-cache
[tool]
recipe = slapos.recipe.build:download
url = ${server.url}/files/tool.sh#${md5('#!/bin/sh\necho tool\n')}
filename = tool.sh
mode = 755
[data]
recipe = slapos.recipe.build:download
url = ${server.url}/files/data.json
md5sum = ${md5('{"a": 1}')}
destination = \${buildout:directory}/etc/data.json
[again]
recipe = slapos.recipe.build:download
url = ${server.url}/files/data.json
[user]
recipe = plone.recipe.command
command = true
paths = \${tool:target} \${tool:location} \${data:target} \${again:target}
`;
    const result = await run(text);
    assert.deepEqual(
      result.installed,
      ['tool', 'data', 'again', 'user'],
      'referenced parts first, in reference order',
    );
    const toolTarget = join(dir.path, 'parts', 'tool', 'tool.sh');
    assert.equal(await readFile(toolTarget, 'utf8'), '#!/bin/sh\necho tool\n');
    assert.equal((await stat(toolTarget)).mode & 0o777, 0o755);
    assert.equal(await readFile(join(dir.path, 'etc', 'data.json'), 'utf8'), '{"a": 1}');
    assert.equal(
      await readFile(join(dir.path, 'parts', 'again', 'again'), 'utf8'),
      '{"a": 1}',
      'target defaults to location/<part name>',
    );
    assert.equal(
      server.requests.filter((r) => r === '/files/data.json').length,
      1,
      'the second download of the URL comes from the download cache',
    );
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'parts', 'tool')), false);
    assert.equal(existsSync(join(dir.path, 'etc', 'data.json')), false, 'destination removed at uninstall');
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});

test('download errors: checksum mismatch, HTTP 404, offline — nothing recorded, nothing left', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  await site.write({ 'f.txt': 'content' });
  const server = await serveDirectory(site.path);
  try {
    const { run } = profileRunner(dir.path);
    const profile = (url: string, extra = ''): string =>
      `[buildout]\nparts = f\n${extra}[f]\nrecipe = slapos.recipe.build:download\nurl = ${url}\nmd5sum = ${md5('content')}\n`;
    await assert.rejects(
      run(profile(`${server.url}/f.txt`).replace(md5('content'), md5('x'))),
      (error: unknown) => {
        assert.ok(error instanceof SlapError);
        assert.equal(error.code, 'SLAP_ERR_CHECKSUM_MISMATCH');
        assert.match(
          error.message,
          /^Installing part f \(slapos\.recipe\.build:download\): MD5 checksum mismatch for download of /,
        );
        return true;
      },
    );
    assert.equal(existsSync(join(dir.path, 'parts', 'f')), false);
    assert.equal(existsSync(join(dir.path, '.installed.cfg')), false);
    await assert.rejects(run(profile(`${server.url}/missing.txt`)), /HTTP 404/);
    await assert.rejects(
      run(profile(`${server.url}/f.txt`), { offline: true }),
      /Couldn't download .*f\.txt in offline mode/,
    );
    const ok = await run(profile(`${server.url}/f.txt`));
    assert.deepEqual(ok.installed, ['f']);
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});

test('slapos.recipe.build:download-unpacked unpacks tarballs, stripping the single top directory by default', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  await site.write({ 'src/app-2.0/bin/app': '#!/bin/sh\n', 'src/app-2.0/README': 'r' });
  const pack = await execFile('/bin/sh', ['-c', 'cd src && tar -czf ../app.tar.gz app-2.0'], {
    cwd: site.path,
  });
  assert.equal(pack.exitCode, 0, pack.stderr);
  const server = await serveDirectory(site.path);
  try {
    const { run } = profileRunner(dir.path);
    await run(
      `[buildout]\nparts = app raw\n[app]\nrecipe = slapos.recipe.build:download-unpacked\nurl = ${server.url}/app.tar.gz\n[raw]\nrecipe = slapos.recipe.build:download-unpacked\nurl = ${server.url}/app.tar.gz\nstrip-top-level-dir = false\ndestination = \${buildout:directory}/raw\n`,
    );
    assert.deepEqual((await readdir(join(dir.path, 'parts', 'app'))).sort(), ['README', 'bin']);
    assert.deepEqual(await readdir(join(dir.path, 'raw')), ['app-2.0']);
    await assert.rejects(
      run(
        `[buildout]\nparts = bad\n[bad]\nrecipe = slapos.recipe.build:download-unpacked\nurl = ${server.url}/src/app-2.0/README\n`,
      ),
      /Not a supported archive/,
    );
    assert.equal(existsSync(join(dir.path, 'parts', 'bad')), false);
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});
