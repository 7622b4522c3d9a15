import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { profileRunner, serveDirectory, tempDir } from '../../testing/buildout.ts';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

test('slapos.recipe.template renders url templates with buildout expansion, $$ escapes and mode', async () => {
  const dir = await tempDir();
  try {
    const template =
      '#!/bin/sh\n# ${:_buildout_section_name_} for ${web:port}\necho "$$(date)" $${buildout:directory} $$HOME\n';
    await dir.write({ 'templates/run.in': template });
    const { run, events } = profileRunner(dir.path);
    const profile = (extra = ''): string =>
      `[buildout]\nparts = script\n[web]\nrecipe = plone.recipe.command\ncommand = true\nport = 8080\n[script]\nrecipe = slapos.recipe.template\nurl = templates/run.in\nmd5sum = ${md5(template)}\noutput = \${buildout:bin-directory}/run\nmode = 750\n${extra}`;
    const result = await run(profile());
    assert.deepEqual(result.installed, ['web', 'script'], 'a referenced part is installed first');
    const output = join(dir.path, 'bin', 'run');
    assert.equal(
      await readFile(output, 'utf8'),
      '#!/bin/sh\n# script for 8080\necho "$(date)" ${buildout:directory} $HOME\n',
    );
    assert.equal((await stat(output)).mode & 0o777, 0o750);

    // With md5sum, update leaves an edited output alone (as the original does).
    await writeFile(output, 'edited');
    events.length = 0;
    await run(profile());
    assert.equal(await readFile(output, 'utf8'), 'edited');

    await assert.rejects(run(profile().replace(md5(template), md5('other'))), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_CHECKSUM_MISMATCH');
      assert.match(
        error.message,
        /Initializing part script \(slapos\.recipe\.template\): MD5 checksum mismatch for local resource/,
      );
      return true;
    });
  } finally {
    await dir.remove();
  }
});

test('slapos.recipe.template: inline text as written, update re-renders url templates without md5sum', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'a.in': 'version ${:v}\n' });
    const { run } = profileRunner(dir.path);
    const text = `[buildout]\nparts = inline file\n[inline]\nrecipe = slapos.recipe.template\ninline =\n  [section]\n  path = $\${buildout:directory}/x\n  value = \${:v}\nv = 1\noutput = inline.cfg\n[file]\nrecipe = slapos.recipe.template\nurl = a.in\nv = 2\noutput = out/a.txt\n`;
    await run(text);
    assert.equal(
      await readFile(join(dir.path, 'inline.cfg'), 'utf8'),
      '[section]\npath = ${buildout:directory}/x\nvalue = 1',
    );
    assert.equal(await readFile(join(dir.path, 'out/a.txt'), 'utf8'), 'version 2\n');
    await dir.write({ 'a.in': 'version ${:v} changed\n' });
    const result = await run(text);
    assert.deepEqual(result.updated, ['inline', 'file']);
    assert.equal(await readFile(join(dir.path, 'out/a.txt'), 'utf8'), 'version 2 changed\n');
  } finally {
    await dir.remove();
  }
});

test('slapos.recipe.template downloads remote templates; template errors name the template and the part', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  await site.write({
    'instance.cfg.in': '[buildout]\nparts = x\n# from ${:_profile_base_location_}\n',
    'bad.in': 'x = ${nosection:y}\n',
  });
  const server = await serveDirectory(site.path);
  try {
    const { run } = profileRunner(dir.path);
    await site.write({
      'sw.cfg': `[template]\nrecipe = slapos.recipe.template\nurl = \${:_profile_base_location_}/\${:filename}\n[instance]\n<= template\nfilename = instance.cfg.in\noutput = \${buildout:directory}/instance.cfg\n[bad]\n<= template\nfilename = bad.in\noutput = bad.cfg\n`,
    });
    await run(`[buildout]\nextends = ${server.url}/sw.cfg\nparts = instance\n`);
    assert.equal(
      await readFile(join(dir.path, 'instance.cfg'), 'utf8'),
      `[buildout]\nparts = x\n# from ${server.url}\n`,
    );
    await assert.rejects(
      run(`[buildout]\nextends = ${server.url}/sw.cfg\nparts = bad\n`),
      (error: unknown) => {
        assert.ok(error instanceof SlapError);
        assert.match(
          error.message,
          new RegExp(
            `${server.url}/bad\\.in: bad:template: \\$\\{nosection:y\\} refers to section \\[nosection\\]`,
          ),
        );
        return true;
      },
    );
    assert.equal(existsSync(join(dir.path, 'bad.cfg')), false);
    await assert.rejects(
      run('[buildout]\nparts = t\n[t]\nrecipe = slapos.recipe.template\ninline = x\n'),
      /t:output: "output" is required/,
    );
    await assert.rejects(
      run('[buildout]\nparts = t\n[t]\nrecipe = slapos.recipe.template\noutput = o\n'),
      /t:url: one of "url" or "inline" is required/,
    );
    await assert.rejects(
      run(
        '[buildout]\nparts = t\n[t]\nrecipe = slapos.recipe.template\ninline = x\noutput = o\nmode = rwx\n',
      ),
      /t:mode: not an octal file mode/,
    );
  } finally {
    await server.close();
    await site.remove();
    await dir.remove();
  }
});

test('collective.recipe.template: ${name} shorthand, inline: input, parents created, re-render on update', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'in/message.in': 'My message is: ${mymessage}\nTop: ${buildout:directory}\n' });
    const { run } = profileRunner(dir.path);
    const text = (message: string): string =>
      `[buildout]\nparts = message inline\n[message]\nrecipe = collective.recipe.template\ninput = in/message.in\noutput = \${buildout:parts-directory}/etc/message\nmymessage = ${message}\n[inline]\nrecipe = collective.recipe.template\ninput = inline:\n  #!/bin/sh\n  echo \${:word}\nword = hi\noutput = bin/inline.sh\nmode = 755\n`;
    await run(text('Hello, World!'));
    assert.equal(
      await readFile(join(dir.path, 'parts/etc/message'), 'utf8'),
      `My message is: Hello, World!\nTop: ${dir.path}\n`,
    );
    assert.equal(await readFile(join(dir.path, 'bin/inline.sh'), 'utf8'), '#!/bin/sh\necho hi');
    assert.equal((await stat(join(dir.path, 'bin/inline.sh'))).mode & 0o777, 0o755);
    await dir.write({ 'in/message.in': 'Changed: ${mymessage}\n' });
    await run(text('Hello, World!'));
    assert.equal(await readFile(join(dir.path, 'parts/etc/message'), 'utf8'), 'Changed: Hello, World!\n');
    const result = await run(text('Bye'));
    assert.deepEqual(result.uninstalled, ['message']);
    assert.equal(await readFile(join(dir.path, 'parts/etc/message'), 'utf8'), 'Changed: Bye\n');
  } finally {
    await dir.remove();
  }
});

test('slapos.recipe.template: a referenced value holding $${ comes out unescaped once, as the fork does', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'a.in': 'path = ${a:v}\nliteral = $${b:c}\n' });
    const { run } = profileRunner(dir.path);
    await run(
      '[buildout]\nparts = out\n[a]\nv = $${b:c}/x\n[out]\nrecipe = slapos.recipe.template\nurl = a.in\noutput = out.cfg\n',
    );
    assert.equal(await readFile(join(dir.path, 'out.cfg'), 'utf8'), 'path = ${b:c}/x\nliteral = ${b:c}\n');
  } finally {
    await dir.remove();
  }
});

test('slapos.recipe.template: without mode, a #! output is 0777 less the umask, other text 0666 less the umask', async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir.path, 'probe'), '', { mode: 0o777 });
    const umask = 0o777 & ~(await stat(join(dir.path, 'probe'))).mode;
    const { run } = profileRunner(dir.path);
    await run(`[buildout]
parts = script plain
[script]
recipe = slapos.recipe.template
inline =
  #!/bin/sh
  echo hi
output = bin/script
[plain]
recipe = slapos.recipe.template
inline = data
output = plain.txt
`);
    assert.equal((await stat(join(dir.path, 'bin/script'))).mode & 0o777, 0o777 & ~umask);
    assert.equal((await stat(join(dir.path, 'plain.txt'))).mode & 0o777, 0o666 & ~umask);
  } finally {
    await dir.remove();
  }
});
