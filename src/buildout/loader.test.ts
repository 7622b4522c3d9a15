import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SlapError } from '../core/errors.ts';
import { md5Hex } from '../lib/download.ts';
import { closedPort, serveDirectory, tempDir } from '../testing/buildout.ts';
import { loadRawProfile, parseAssignment } from './loader.ts';
import type { RawConfig } from './parser.ts';

function value(raw: RawConfig, section: string, key: string): string | undefined {
  return raw.get(section)?.get(key)?.value;
}

test('§1.11-5 extends: order, nesting, relative bases, the extending file wins', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'buildout.cfg': '[buildout]\nextends = sub/a.cfg b.cfg\n[s]\nv = root\n',
      'sub/a.cfg': '[buildout]\nextends = ../c.cfg deeper/d.cfg\n[s]\nv = a\nfrom-a = yes\n',
      'sub/deeper/d.cfg': '[s]\nv = d\nfrom-d = yes\n',
      'c.cfg': '[s]\nv = c\nfrom-c = yes\n[t]\nx = c\n',
      'b.cfg': '[t]\nx = b\n',
    });
    const { raw, files } = await loadRawProfile({ configFile: 'buildout.cfg', cwd: dir.path });
    assert.equal(value(raw, 's', 'v'), 'root');
    assert.equal(value(raw, 's', 'from-a'), 'yes');
    assert.equal(value(raw, 's', 'from-c'), 'yes');
    assert.equal(value(raw, 's', 'from-d'), 'yes');
    assert.equal(value(raw, 't', 'x'), 'b', 'later extends override earlier ones');
    assert.equal(value(raw, 'buildout', 'extends'), undefined);
    assert.equal(value(raw, 'buildout', 'directory'), dir.path);
    assert.deepEqual(
      files,
      ['buildout.cfg', 'sub/a.cfg', 'c.cfg', 'sub/deeper/d.cfg', 'b.cfg'].map((f) => join(dir.path, f)),
    );
  } finally {
    await dir.remove();
  }
});

test('§1.11-5 diamonds are allowed; += is resolved per branch (example 1.3-a)', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'c.cfg': '[s]\nl = c\n',
      'a.cfg': '[buildout]\nextends = c.cfg\n[s]\nl += a\n',
      'b.cfg': '[buildout]\nextends = c.cfg\n[s]\nl += b\n',
      'buildout.cfg': '[buildout]\nextends = a.cfg b.cfg\n',
    });
    const { raw } = await loadRawProfile({ configFile: join(dir.path, 'buildout.cfg') });
    assert.equal(value(raw, 's', 'l'), 'c\nb');
  } finally {
    await dir.remove();
  }
});

test('§1.11-5 an extends cycle is an error showing the include chain (example 1.3-b)', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'buildout.cfg': '[buildout]\nextends = a.cfg\n',
      'a.cfg': '[buildout]\nextends = buildout.cfg\n',
    });
    await assert.rejects(loadRawProfile({ configFile: join(dir.path, 'buildout.cfg') }), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_PROFILE');
      const root = join(dir.path, 'buildout.cfg');
      assert.equal(error.message, `Recursive file include: ${root} -> ${join(dir.path, 'a.cfg')} -> ${root}`);
      return true;
    });
  } finally {
    await dir.remove();
  }
});

test('a missing extended file names the file and line that extends it', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'buildout.cfg': '[buildout]\nparts =\nextends =\n  present.cfg\n  missing.cfg\n',
      'present.cfg': '[a]\n',
    });
    await assert.rejects(
      loadRawProfile({ configFile: join(dir.path, 'buildout.cfg') }),
      new RegExp(
        `Couldn't open profile ${join(dir.path, 'missing.cfg')} \\(extended from ${join(dir.path, 'buildout.cfg')}:3\\): ENOENT`,
      ),
    );
    await assert.rejects(
      loadRawProfile({ configFile: join(dir.path, 'nope.cfg') }),
      /Couldn't open .*nope\.cfg: no such file/,
    );
  } finally {
    await dir.remove();
  }
});

test('§1.11-5/6 URL extends: URL bases, leading ../, _profile_base_location_, extends-cache and offline', async () => {
  const site = await tempDir();
  const work = await tempDir();
  await site.write({
    'slapos/software/foo/software.cfg': [
      '[buildout]',
      'extends = buildout.hash.cfg ../../stack/slapos.cfg',
      '[jinja-template]',
      'url = ${:_profile_base_location_}/${:filename}',
      '[instance-profile]',
      '<= jinja-template',
      'filename = instance.cfg.in',
      '',
    ].join('\n'),
    'slapos/software/foo/buildout.hash.cfg': '[instance-profile]\nmd5sum = 0123\n',
    'slapos/stack/slapos.cfg':
      '[buildout]\nextends = ../component/defaults.cfg\n[stack]\nbase = ${:_profile_base_location_}\n',
    'slapos/component/defaults.cfg': '[defaults]\nfrom-component = yes\n',
  });
  const server = await serveDirectory(site.path);
  try {
    const softwareUrl = `${server.url}/slapos/software/foo/software.cfg`;
    await work.write({ 'buildout.cfg': `[buildout]\nextends = ${softwareUrl}\nextends-cache = cache\n` });
    const configFile = join(work.path, 'buildout.cfg');
    const { raw, files } = await loadRawProfile({ configFile });
    const remoteRoot = await loadRawProfile({ configFile: softwareUrl, cwd: work.path });
    assert.equal(
      value(remoteRoot.raw, 'buildout', 'directory'),
      work.path,
      'a remote root: the directory is the cwd',
    );
    assert.equal(value(remoteRoot.raw, 'instance-profile', 'md5sum'), '0123');
    assert.equal(
      value(raw, 'jinja-template', '_profile_base_location_'),
      `${server.url}/slapos/software/foo`,
    );
    assert.equal(value(raw, 'instance-profile', 'md5sum'), '0123');
    assert.equal(value(raw, 'stack', '_profile_base_location_'), `${server.url}/slapos/stack`);
    assert.equal(value(raw, 'defaults', 'from-component'), 'yes');
    assert.equal(
      value(raw, 'instance-profile', '_profile_base_location_'),
      undefined,
      'injected only where the placeholder is written',
    );
    assert.ok(
      files.includes(`${server.url}/slapos/component/defaults.cfg`),
      'leading ../ drops URL components',
    );
    assert.ok(
      existsSync(join(work.path, 'cache', md5Hex(softwareUrl))),
      'remote profiles are cached under md5(url)',
    );

    // newest=false: the cache is used without the network.
    const before = server.requests.length;
    await loadRawProfile({ configFile, assignments: [parseAssignment('buildout:newest=false')] });
    assert.equal(server.requests.length, before);

    // offline: no network; cached files still work, others fail.
    await server.close();
    const offline = await loadRawProfile({ configFile, assignments: [parseAssignment('offline=true')] });
    assert.equal(value(offline.raw, 'defaults', 'from-component'), 'yes');
    await work.write({ 'other.cfg': `[buildout]\nextends = ${server.url}/not-cached.cfg\n` });
    await assert.rejects(
      loadRawProfile({
        configFile: join(work.path, 'other.cfg'),
        assignments: [parseAssignment('offline=true')],
      }),
      (error: unknown) =>
        error instanceof SlapError &&
        error.code === 'SLAP_ERR_DOWNLOAD_FAILED' &&
        /Couldn't download .*not-cached\.cfg in offline mode/.test(error.message),
    );
    // newest=true with the server gone: the cached copy is the fallback.
    const fallback = await loadRawProfile({ configFile });
    assert.equal(value(fallback.raw, 'defaults', 'from-component'), 'yes');
  } finally {
    await server.close();
    await site.remove();
    await work.remove();
  }
});

test('§1.11-5 file: URLs in extends: URL base for relative extends and _profile_base_location_', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'lib/base.cfg': '[buildout]\nextends = more.cfg\n[t]\nurl = ${:_profile_base_location_}/x.in\n',
      'lib/more.cfg': '[t]\nmore = yes\n',
      'buildout.cfg': `[buildout]\nextends = ${pathToFileURL(join(dir.path, 'lib', 'base.cfg')).href}\n`,
    });
    const { raw, files } = await loadRawProfile({ configFile: join(dir.path, 'buildout.cfg') });
    const base = pathToFileURL(join(dir.path, 'lib')).href;
    assert.equal(value(raw, 't', '_profile_base_location_'), base);
    assert.equal(value(raw, 't', 'more'), 'yes');
    assert.deepEqual(files.slice(1), [`${base}/base.cfg`, `${base}/more.cfg`]);
  } finally {
    await dir.remove();
  }
});

test('unreachable and missing remote profiles are clear errors', async () => {
  const site = await tempDir();
  const work = await tempDir();
  const server = await serveDirectory(site.path);
  const port = await closedPort();
  try {
    await work.write({
      'a.cfg': `[buildout]\nextends = ${server.url}/missing.cfg\n`,
      'b.cfg': `[buildout]\nextends = http://127.0.0.1:${port}/unreachable.cfg\n`,
    });
    await assert.rejects(loadRawProfile({ configFile: join(work.path, 'a.cfg') }), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_DOWNLOAD_FAILED');
      assert.match(error.message, /missing\.cfg: HTTP 404.*\(extended from .*a\.cfg:2\)/);
      return true;
    });
    await assert.rejects(loadRawProfile({ configFile: join(work.path, 'b.cfg') }), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_DOWNLOAD_FAILED');
      assert.equal(error.exitCode, 69);
      assert.match(
        error.message,
        new RegExp(`Error downloading http://127\\.0\\.0\\.1:${port}/unreachable\\.cfg: .*ECONNREFUSED`),
      );
      return true;
    });
  } finally {
    await server.close();
    await site.remove();
    await work.remove();
  }
});

test('§1.11-6 _profile_base_location_ of local files; a later file without the placeholder does not override it', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'lib/base.cfg':
        '[t]\nurl = ${:_profile_base_location_}/x.in\n[u]\nurl = ${:_profile_base_location_}/y.in\n',
      'buildout.cfg':
        '[buildout]\nextends = lib/base.cfg\n[t]\nother = 1\n[u]\nurl = ${:_profile_base_location_}/z.in\n[v]\nref = ${x:_profile_base_location_}\n',
    });
    const { raw } = await loadRawProfile({ configFile: join(dir.path, 'buildout.cfg') });
    assert.equal(value(raw, 't', '_profile_base_location_'), join(dir.path, 'lib'));
    assert.equal(value(raw, 'u', '_profile_base_location_'), dir.path);
    assert.equal(value(raw, 'v', '_profile_base_location_'), undefined);
  } finally {
    await dir.remove();
  }
});

test('§1.11-7 += and -= merge semantics across extends, with stray operator keys (example 1.4-a)', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'base.cfg': '[a]\np = base1\n  base2\nn += fromfirst\n',
      'mid.cfg': '[a]\np += mid\nn = midassign\n',
      'buildout.cfg':
        '[buildout]\nextends = base.cfg mid.cfg\nparts += extra\n[a]\np -= base1\np += top\n[lonely]\nq = x\nq += y\n',
    });
    const { raw } = await loadRawProfile({ configFile: join(dir.path, 'buildout.cfg') });
    assert.equal(value(raw, 'a', 'p'), 'base2\nmid\ntop');
    assert.equal(value(raw, 'a', 'n'), 'midassign');
    assert.equal(
      value(raw, 'a', 'n +'),
      'fromfirst',
      'a += onto a section absent from the base stays a stray key',
    );
    assert.equal(value(raw, 'lonely', 'q'), 'x');
    assert.equal(value(raw, 'lonely', 'q +'), 'y');
    assert.equal(
      value(raw, 'buildout', 'parts'),
      '\nextra',
      '+= onto the [buildout] defaults (no parts) starts with an empty line',
    );
  } finally {
    await dir.remove();
  }
});

test('defaults, command-line assignments (they win) and command-line extends', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'buildout.cfg': '[buildout]\nparts = a\n[a]\nx = file\n',
      'more.cfg': '[a]\ny = more\nx = more\n',
    });
    const { raw } = await loadRawProfile({
      configFile: 'buildout.cfg',
      cwd: dir.path,
      assignments: ['a:x=cli', 'parts=a b', 'b:new = value with spaces ', 'buildout:extends=more.cfg'].map(
        parseAssignment,
      ),
    });
    assert.equal(value(raw, 'a', 'x'), 'cli');
    assert.equal(value(raw, 'a', 'y'), 'more');
    assert.equal(value(raw, 'buildout', 'parts'), 'a b');
    assert.equal(value(raw, 'b', 'new'), 'value with spaces');
    assert.equal(value(raw, 'buildout', 'installed'), '.installed.cfg');
    assert.equal(value(raw, 'buildout', 'offline'), 'false');
    assert.equal(value(raw, 'buildout', 'versions'), 'versions');
    assert.throws(() => parseAssignment('a:b:c=1'), /Invalid assignment/);
    assert.throws(() => parseAssignment('novalue'), /Not an assignment/);
  } finally {
    await dir.remove();
  }
});

test('cache directories are relative to the file that set them; user defaults load unless disabled', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'buildout.cfg': '[buildout]\nextends = conf/base.cfg\n',
      'conf/base.cfg': '[buildout]\ndownload-cache = dl\neggs-directory = ${buildout:directory}/eggs\n',
      'home/.buildout/default.cfg': '[buildout]\nextends-cache = cache\n[user]\nfrom-defaults = yes\n',
    });
    const env = { HOME: join(dir.path, 'home') };
    const withDefaults = await loadRawProfile({
      configFile: join(dir.path, 'buildout.cfg'),
      userDefaults: true,
      env,
    });
    assert.equal(value(withDefaults.raw, 'buildout', 'download-cache'), join(dir.path, 'conf', 'dl'));
    assert.equal(value(withDefaults.raw, 'buildout', 'eggs-directory'), '${buildout:directory}/eggs');
    assert.equal(
      value(withDefaults.raw, 'buildout', 'extends-cache'),
      join(dir.path, 'home', '.buildout', 'cache'),
    );
    assert.equal(value(withDefaults.raw, 'user', 'from-defaults'), 'yes');
    const without = await loadRawProfile({ configFile: join(dir.path, 'buildout.cfg'), env });
    assert.equal(without.raw.has('user'), false);
  } finally {
    await dir.remove();
  }
});

test('§7.3 stray operator keys and a += repeated in one section are warned about (buildout keeps them silently)', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'base.cfg': '[a]\nn += fromfirst\n[m]\nk = base\n',
      'buildout.cfg':
        '[buildout]\nextends = base.cfg\n[a]\nn = set\n[lonely]\nq = x\nq += y\n[m]\nk += one\nk += two\n[user]\n< = m\nk += macro\n',
    });
    const warnings: string[] = [];
    const { raw } = await loadRawProfile({
      configFile: join(dir.path, 'buildout.cfg'),
      onProgress: (event) => {
        if (event.type === 'warning') warnings.push(event.message);
      },
    });
    // As buildout 2.13: the last repeated += wins, stray keys stay.
    assert.equal(value(raw, 'm', 'k'), 'base\ntwo');
    assert.equal(value(raw, 'a', 'n +'), 'fromfirst');
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(
      warnings[0] ?? '',
      /buildout\.cfg:10: "k \+=" repeats the one of line 9 in the same section/,
    );
    assert.match(warnings[1] ?? '', /base\.cfg:2: \[a\] "n \+=" was not applied: .* an option named "n \+"/);
    assert.match(warnings[2] ?? '', /buildout\.cfg:7: \[lonely\] "q \+=" was not applied/);
  } finally {
    await dir.remove();
  }
});
