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

test('download: alternate-url is tried when url fails; a part offline option overrides buildout:offline', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  await site.write({ 'mirror/f.txt': 'content' });
  const server = await serveDirectory(site.path);
  try {
    const { run } = profileRunner(dir.path);
    const profile = (extra: string): string =>
      `[buildout]\nparts = f\n[f]\nrecipe = slapos.recipe.build:download\nurl = ${server.url}/f.txt\nmd5sum = ${md5('content')}\n${extra}`;
    const result = await run(profile(`alternate-url = ${server.url}/mirror/f.txt\n`));
    assert.deepEqual(result.installed, ['f']);
    assert.equal(await readFile(join(dir.path, 'parts', 'f', 'f'), 'utf8'), 'content');
    assert.deepEqual(server.requests, ['/f.txt', '/mirror/f.txt']);
    // A checksum mismatch is not retried elsewhere.
    await assert.rejects(
      run(profile(`alternate-url = ${server.url}/mirror/f.txt\n`).replace(md5('content'), md5('x'))),
      /MD5 checksum mismatch/,
    );
    // offline = false downloads even in an offline run; offline = true refuses in an online one.
    const direct = `[buildout]\nparts = g\n[g]\nrecipe = slapos.recipe.build:download-unpacked\nurl = ${server.url}/mirror/f.txt\n`;
    await assert.rejects(run(`${direct}offline = true\n`), /Couldn't download .*f\.txt in offline mode/);
    const online = await run(
      profile('offline = false\n').replace(`${server.url}/f.txt`, `${server.url}/mirror/f.txt`),
      { offline: true },
    );
    assert.deepEqual(online.installed, ['f']);
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});

test('download(-unpacked): shared = true builds once under shared-part-list, read-only, never removed', async () => {
  const site = await tempDir();
  const shared = await tempDir();
  const one = await tempDir();
  const two = await tempDir();
  await site.write({ 'tool.txt': 'tool', 'src/pkg/README': 'r' });
  const pack = await execFile('/bin/sh', ['-c', 'cd src && tar -czf ../pkg.tar.gz pkg'], { cwd: site.path });
  assert.equal(pack.exitCode, 0, pack.stderr);
  const server = await serveDirectory(site.path);
  const profile = `[buildout]
parts = show
shared-part-list = ${shared.path}/unwritable-or-absent
  ${shared.path}
[tool]
recipe = slapos.recipe.build:download
url = ${server.url}/tool.txt
md5sum = ${md5('tool')}
shared = true
[pkg]
recipe = slapos.recipe.build:download-unpacked
url = ${server.url}/pkg.tar.gz
shared = true
[show]
recipe = slapos.recipe.template
inline = \${tool:target} \${pkg:location}
output = \${buildout:directory}/paths
`;
  try {
    await profileRunner(one.path).run(profile);
    const [target, location] = (await readFile(join(one.path, 'paths'), 'utf8')).split(' ') as [
      string,
      string,
    ];
    assert.ok(target.startsWith(join(shared.path, 'tool') + '/'), target);
    assert.ok(location.startsWith(join(shared.path, 'pkg') + '/'), location);
    assert.equal(await readFile(target, 'utf8'), 'tool');
    assert.deepEqual((await readdir(location)).sort(), ['.buildout-shared.json', 'README']);
    assert.equal((await stat(join(location, 'README'))).mode & 0o222, 0, 'shared builds are read-only');
    const requests = server.requests.length;
    // Another buildout with the same parts reuses the builds: nothing downloaded.
    await profileRunner(two.path).run(profile);
    assert.equal(await readFile(join(two.path, 'paths'), 'utf8'), `${target} ${location}`);
    assert.equal(server.requests.length, requests);
    // Uninstalling does not remove a shared build.
    await profileRunner(one.path).run('[buildout]\nparts =\n');
    assert.ok(existsSync(target) && existsSync(location));
    // The original's constraints.
    await assert.rejects(
      profileRunner(one.path).run(profile.replace(`md5sum = ${md5('tool')}\n`, '')),
      /When shared=true, option 'md5sum' must be set/,
    );
    await assert.rejects(
      profileRunner(one.path).run(
        profile.replace('shared = true\n[show]', 'shared = true\ndestination = x\n[show]'),
      ),
      /When shared=true, option 'destination' can't be set/,
    );
  } finally {
    await server.close();
    await execFile('/bin/chmod', ['-R', 'u+w', shared.path]);
    for (const d of [site, shared, one, two]) await d.remove();
  }
});
