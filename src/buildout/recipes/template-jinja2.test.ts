import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadProfile } from '../engine.ts';
import { PyDict, PySet, PyTuple } from '../py-value.ts';
import { profileRunner, tempDir } from '../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

const TEMPLATE = `{% import 'macros' as m with context -%}
{% from 'lib/more.j2' import shout -%}
[buildout]
parts = {{ parts | join(' ') }}
{% set ports = [] -%}
{% for i in range(count | int) -%}
{% do ports.append(base | int + i) -%}
{% endfor -%}
# {{ len(ports) }} ports: {{ ports }} {{ shout(title) }}
{{ m.section('web', ports[0]) }}
[conf]
value = {{ dumps(conf) }}
name = {{ parameters['name'] }} {{ json_module.dumps({'a': flag}) }}
raw = {{ sentence }}
dir = {{ buildout['directory'] }}
{% if missing is defined %}never{% endif %}
`;

const MACROS = `{% macro section(name, port) -%}
[{{ name }}]
port = {{ port }}
home = {{ sentence }}
{%- endmacro %}`;

test('slapos.recipe.template:jinja2 renders url templates with context, import-list, extensions, dumps', async () => {
  const dir = await tempDir();
  try {
    await dir.write({
      'instance.cfg.in': TEMPLATE,
      'macros.j2': MACROS,
      'lib/more.j2': '{% macro shout(x) %}{{ x | upper }}!{% endmacro %}',
    });
    const { run } = profileRunner(dir.path);
    const profile = (extra = ''): string => `[buildout]
parts = instance
[data]
conf = !py!{'b': [1, 2], 'a': ('x',), 's': {'y'}}
json = {"name": "Alice", "n": 3}
[macro-file]
path = \${buildout:directory}/macros.j2
[instance]
recipe = slapos.recipe.template:jinja2
url = \${buildout:directory}/instance.cfg.in
md5sum = ${md5(TEMPLATE)}
output = \${buildout:directory}/instance.cfg
mode = 0640
extensions = jinja2.ext.do
base = 8080
import-list =
  file macros macro-file:path
  rawfolder lib \${buildout:directory}/lib
context =
  raw sentence a few   words
  key conf data:conf
  key count :count
  key base :base
  jsonkey parameters data:json
  json flag true
  json parts ["a", "b"]
  section buildout buildout
  import json_module json
  raw title hello
count = 3
${extra}`;
    const result = await run(profile());
    assert.deepEqual(result.installed, ['instance']);
    const output = join(dir.path, 'instance.cfg');
    assert.equal(
      await readFile(output, 'utf8'),
      `[buildout]
parts = a b
# 3 ports: [8080, 8081, 8082] HELLO!
[web]
port = 8080
home = a few   words
[conf]
value = !py!{'a': ('x',), 'b': [1, 2], 's': {'y'}}
name = Alice {"a": true}
raw = a few   words
dir = ${dir.path}
`,
    );
    assert.equal((await stat(output)).mode & 0o777, 0o640);
    // The rendered `dumps` reads back as the same object.
    const view = await loadProfile({ configFile: output });
    const value = (await view.section('conf')).getValue('value');
    assert.ok(value instanceof PyDict);
    assert.deepEqual(value.get('b'), [1n, 2n]);
    assert.deepEqual(value.get('a'), new PyTuple(['x']));
    assert.deepEqual(value.get('s'), new PySet(['y']));

    // Nothing changed: not rewritten. A changed context value re-renders.
    const mtime = (await stat(output)).mtimeMs;
    const again = await run(profile());
    assert.deepEqual(again.installed, []);
    assert.equal((await stat(output)).mtimeMs, mtime);
    await run(profile('count = 1'));
    assert.match(await readFile(output, 'utf8'), /# 1 ports: \[8080\]/);
  } finally {
    await dir.remove();
  }
});

test('jinja2: inline templates, once, update re-renders an edited url template', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'a.j2': '{{ x }}-1' });
    const { run } = profileRunner(dir.path);
    const profile = `[buildout]
parts = inline file first
[inline]
recipe = slapos.recipe.template:jinja2
inline =
  {%- for i in range(2) %}
  line {{ i }} in \${buildout:directory}
  {%- endfor %}
output = inline.txt
[file]
recipe = slapos.recipe.template:jinja2
url = a.j2
context = raw x X
output = out/a.txt
[first]
recipe = slapos.recipe.template:jinja2
inline = created once
output = once.txt
once = \${:output}
`;
    await run(profile);
    assert.equal(
      await readFile(join(dir.path, 'inline.txt'), 'utf8'),
      `\nline 0 in ${dir.path}\nline 1 in ${dir.path}`,
    );
    assert.equal(await readFile(join(dir.path, 'out/a.txt'), 'utf8'), 'X-1');
    assert.equal(await readFile(join(dir.path, 'once.txt'), 'utf8'), 'created once');
    await writeFile(join(dir.path, 'once.txt'), 'edited by hand');
    await dir.write({ 'a.j2': '{{ x }}-2' });
    const result = await run(profile);
    assert.deepEqual(result.updated, ['inline', 'file', 'first']);
    assert.equal(await readFile(join(dir.path, 'out/a.txt'), 'utf8'), 'X-2');
    assert.equal(await readFile(join(dir.path, 'once.txt'), 'utf8'), 'edited by hand');
    // The once output is not owned: removing the part keeps it.
    await run('[buildout]\nparts =\n');
    assert.ok(existsSync(join(dir.path, 'once.txt')));
    assert.equal(existsSync(join(dir.path, 'out/a.txt')), false);
  } finally {
    await dir.remove();
  }
});

test('jinja2: errors name the template, the line and the part', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 't.j2': 'ok\n{{ nothere }}\n' });
    const { run } = profileRunner(dir.path);
    const part = (body: string): string =>
      `[buildout]\nparts = t\n[t]\nrecipe = slapos.recipe.template:jinja2\noutput = out\n${body}\n`;
    await rejectsWithSlapError(
      run(part('url = t.j2')),
      'SLAP_ERR_TEMPLATE',
      /Installing part t \(slapos\.recipe\.template:jinja2\): t\.j2:2: UndefinedError: 'nothere' is undefined/,
    );
    assert.equal(existsSync(join(dir.path, 'out')), false);
    await rejectsWithSlapError(
      run(part('inline = {% for %}')),
      'SLAP_ERR_TEMPLATE',
      /Initializing part t \(slapos\.recipe\.template:jinja2\): \[t\]:1/,
    );
    await rejectsWithSlapError(
      run(part('inline = x\ncontext = import sp subprocess')),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /t:context: Python module "subprocess" is not available to templates/,
    );
    await rejectsWithSlapError(
      run(part('inline = x\ncontext = eval x 1+1')),
      'SLAP_ERR_PROFILE',
      /unknown context type "eval"/,
    );
    await rejectsWithSlapError(
      run(part('inline = x\ncontext = key x nosection')),
      'SLAP_ERR_PROFILE',
      /expected section:option/,
    );
    await rejectsWithSlapError(
      run(part('inline = x\ncontext = key x :nothere')),
      'SLAP_ERR_PROFILE',
      /has no option "nothere"/,
    );
    await rejectsWithSlapError(
      run(part('inline = x\ncontext = json x {bad')),
      'SLAP_ERR_PROFILE',
      /is not valid JSON/,
    );
    await rejectsWithSlapError(
      run(part('inline = x\nextensions = jinja2.ext.i18n')),
      'SLAP_ERR_TEMPLATE',
      /unknown Jinja2 extension/,
    );
    await rejectsWithSlapError(
      run(part(`url = t.j2\nmd5sum = ${md5('other')}`)),
      'SLAP_ERR_CHECKSUM_MISMATCH',
      /MD5 checksum mismatch/,
    );
    await rejectsWithSlapError(
      run(part('inline = {{ dumps(range) }}')),
      'SLAP_ERR_TEMPLATE',
      /dumps\(\) cannot serialise/,
    );
  } finally {
    await dir.remove();
  }
});

test('jinja2: once creates its marker after rendering; later runs leave the output alone; #! outputs are executable', async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir.path, 'probe'), '', { mode: 0o777 });
    const umask = 0o777 & ~(await stat(join(dir.path, 'probe'))).mode;
    const { run } = profileRunner(dir.path);
    const profile = (text: string): string => `[buildout]
parts = init script plain
[init]
recipe = slapos.recipe.template:jinja2
inline = ${text}
output = config.txt
once = \${buildout:directory}/init.done
[script]
recipe = slapos.recipe.template:jinja2
inline =
  #!/bin/sh
  echo hi
output = bin/script
[plain]
recipe = slapos.recipe.template:jinja2
inline = data
output = plain.txt
`;
    const first = await run(profile('first'));
    assert.deepEqual(first.installed, ['init', 'script', 'plain']);
    assert.equal(await readFile(join(dir.path, 'config.txt'), 'utf8'), 'first');
    assert.equal(await readFile(join(dir.path, 'init.done'), 'utf8'), '');
    assert.equal((await stat(join(dir.path, 'bin/script'))).mode & 0o777, 0o777 & ~umask);
    assert.equal((await stat(join(dir.path, 'plain.txt'))).mode & 0o777, 0o666 & ~umask);
    // The marker exists: a changed template is not rendered again (install nor update).
    await run(profile('second'));
    assert.equal(await readFile(join(dir.path, 'config.txt'), 'utf8'), 'first');
    await run(profile('second'));
    assert.equal(await readFile(join(dir.path, 'config.txt'), 'utf8'), 'first');
  } finally {
    await dir.remove();
  }
});

test('jinja2: floats stay floats across !py! options, dumps, json and json-in-xml parameters', async () => {
  const dir = await tempDir();
  try {
    const template = [
      "{{ f }} {{ f['ratio'] * 2 }} {{ dumps(f) }}",
      '{{ dumps(1.0) }} {{ dumps(1e20) }} {{ dumps(-0.0) }} {{ dumps(2.5) }} {{ dumps(2) }} {{ dumps([1.0, 3]) }}',
      '{{ j }} {{ dumps(j) }} {{ jk }} {{ json_module.loads("[1.0, 2, 1e3]") }}',
      "{{ computed }} {{ dumps({'x': 4 / 2}) }}",
    ].join('\n');
    await dir.write({ 't.in': template });
    const { run } = profileRunner(dir.path);
    await run(`[buildout]
parts = out
[data]
f = !py!{"ratio": 2.0, "n": 3, "big": 1e20, "neg": -1.0}
computed = !py!1.5 + 0.5
j = {"a": 1.0}
[out]
recipe = slapos.recipe.template:jinja2
url = \${buildout:directory}/t.in
output = \${buildout:directory}/out.txt
context =
  key f data:f
  key computed data:computed
  json j {"a": 1.0, "b": 1}
  jsonkey jk data:j
  import json_module json
`);
    assert.equal(
      await readFile(join(dir.path, 'out.txt'), 'utf8'),
      [
        "{'ratio': 2.0, 'n': 3, 'big': 1e+20, 'neg': -1.0} 4.0 !py!{'big': 1e+20, 'n': 3, 'neg': -1.0, 'ratio': 2.0}",
        '!py!1.0 !py!1e+20 !py!-0.0 !py!2.5 !py!2 !py![1.0, 3]',
        "{'a': 1.0, 'b': 1} !py!{'a': 1.0, 'b': 1} {'a': 1.0} [1.0, 2, 1000.0]",
        "2.0 !py!{'x': 2.0}",
      ].join('\n'),
    );
  } finally {
    await dir.remove();
  }
});
