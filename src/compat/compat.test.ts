import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseProfile } from '../buildout/parser.ts';
import { BUILTIN_RECIPES } from '../buildout/recipes/index.ts';
import { compatMain } from './cli.ts';
import { instanceProfiles, relativePath } from './profiles.ts';
import { classifyRecipes, isPythonCodeValue, profileRunner } from './recipes.ts';
import { compatReport } from './report.ts';

/** A small checkout: one software release rendering four instance profiles in four ways. */
const CHECKOUT: Record<string, string> = {
  'software/demo/software.cfg': `[buildout]
parts = instance-profile template-other download-third template-broken pwn

[python]
recipe = zc.recipe.egg
eggs = nothing

[pwn]
recipe = plone.recipe.command
command = touch \${buildout:directory}/pwned
stop-on-error = true

[jinja-template]
recipe = slapos.recipe.template:jinja2

[instance-profile]
<= jinja-template
url = \${:_profile_base_location_}/instance.cfg.in
output = \${buildout:directory}/instance.cfg
context =
  key python python:location
  key exe python:executable
  raw other \${template-other:output}
  raw third \${download-third:target}

[template-other]
recipe = slapos.recipe.template
url = \${:_profile_base_location_}/instance-other.cfg.in
output = \${buildout:directory}/instance-other.cfg

[download-third]
recipe = slapos.recipe.build:download
url = \${:_profile_base_location_}/instance-third.cfg.in

[template-broken]
<= jinja-template
url = \${:_profile_base_location_}/instance-broken.cfg.in
output = \${buildout:directory}/instance-broken.cfg

[template-init-fails]
<= jinja-template
url = \${:_profile_base_location_}/instance-init.cfg.in
output = \${buildout:directory}/instance-init.cfg
`,
  'software/demo/instance-init.cfg.in': '[buildout]\n{% if %}\n',
  'software/demo/instance.cfg.in': `[buildout]
parts = directory wrap
[directory]
recipe = slapos.cookbook:mkdirectory
bin = {{ python }}/bin
exe = {{ exe }}
{% for name in ['a', 'b'] %}
[wrapper-{{ name }}]
recipe = slapos.cookbook:wrapper
command-line = {{ name }}
{% endfor %}
[wrap]
<= wrapper-a
wrapper-path = \${directory:bin}/a
[instance-parameter]
<= slap-connection
recipe = slapos.cookbook:slapconfiguration
`,
  'software/demo/instance-other.cfg.in': `[buildout]
parts = code
[code]
recipe = slapos.recipe.build
init =
  options['x'] = '\${python:location}'
[literal]
recipe = slapos.cookbook:mkdirectory
value = !py!['\${python:location}', 1]
`,
  'software/demo/instance-third.cfg.in': `[buildout]
parts = cron
[cron]
recipe = slapos.cookbook:zabbixagent
[py]
recipe = slapos.cookbook:mkdirectory
value = !py!__import__('os').getcwd()
`,
  'software/demo/instance-broken.cfg.in': `[buildout]
{{ undefined_name }}
`,
  'software/demo/instance-instance-time.cfg.jinja2': `[buildout]
parts = x
{% set x = slapparameter_dict.get('x') %}
`,
  'software/demo/test/instance.cfg': '[buildout]\n',
  'software/demo/testsuite/instance-x.cfg': '[buildout]\n',
  'software/demo/notinstance.cfg': '[buildout]\n',
  'stack/deep/inner/instance-stack.cfg.in': '[buildout]\n',
  'stack/test/instance.cfg': '[buildout]\n',
};

async function checkout(extra: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'compat-test-'));
  for (const [path, text] of Object.entries({ ...CHECKOUT, ...extra })) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

test('the instance profiles: software/*/instance*.cfg* and stack/**/instance*.cfg*, without test trees', async () => {
  const root = await checkout();
  try {
    assert.deepEqual(
      instanceProfiles(root).map((path) => relativePath(root, path)),
      [
        'software/demo/instance-broken.cfg.in',
        'software/demo/instance-init.cfg.in',
        'software/demo/instance-instance-time.cfg.jinja2',
        'software/demo/instance-other.cfg.in',
        'software/demo/instance-third.cfg.in',
        'software/demo/instance.cfg.in',
        'stack/deep/inner/instance-stack.cfg.in',
      ],
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('!py! values: literals (references included) are not code; anything else is', () => {
  assert.equal(isPythonCodeValue("!py!['${a:b}', 1, (2,), {'k': None}]"), false);
  assert.equal(isPythonCodeValue('!py!${a:b}'), false);
  assert.equal(isPythonCodeValue('plain ${a:b}'), false);
  assert.equal(isPythonCodeValue("!py!__import__('os').getcwd()"), true);
  assert.equal(isPythonCodeValue('!py![x for x in y]'), true);
});

test('recipes are classified after <= macros: native, bridge (Python code), blocked', () => {
  const raw = parseProfile(
    `[base]
recipe = slapos.cookbook:wrapper
[a]
<= base
[b]
recipe = slapos.recipe.build
install = pass
[c]
recipe = slapos.recipe.build
[d]
recipe = slapos.cookbook:mkdirectory
x = !py!len('')
[e]
recipe = zc.recipe.egg
[f]
<= nowhere
[g]
recipe = \${x:y}
[h]
<= base
recipe =
[data]
x = 1
`,
    'p.cfg',
  );
  const sections = classifyRecipes(raw, BUILTIN_RECIPES);
  assert.deepEqual(
    sections.map((s) => [s.section, s.runner]),
    [
      ['base', 'native'],
      ['a', 'native'],
      ['b', 'bridge'],
      ['c', 'native'],
      ['d', 'bridge'],
      ['e', 'blocked'],
      ['f', 'blocked'],
      ['g', 'blocked'],
    ],
  );
  assert.match(sections.find((s) => s.section === 'f')?.reason ?? '', /No section named \[nowhere\]/);
  assert.equal(profileRunner(sections), 'blocked');
  assert.equal(profileRunner(sections.filter((s) => s.runner !== 'blocked')), 'bridge');
  assert.equal(profileRunner(sections.filter((s) => s.runner === 'native')), 'native');
});

test('each profile is rendered by its software release, loaded with the node tail and classified', async () => {
  const root = await checkout();
  try {
    const report = await compatReport(root, { builtins: BUILTIN_RECIPES });
    const byName = new Map(report.profiles.map((p) => [p.profile, p]));
    const main = byName.get('software/demo/instance.cfg.in');
    assert.equal(main?.status, 'native', main?.error);
    assert.deepEqual(main?.renderedBy, {
      software: 'software/demo/software.cfg',
      part: 'instance-profile',
      kind: 'jinja2',
      stage: 'software',
    });
    assert.deepEqual(
      main?.sections.map((s) => s.section),
      ['directory', 'wrapper-a', 'wrapper-b', 'wrap', 'instance-parameter'],
    );
    // python:executable is set by zc.recipe.egg's init: a placeholder, said so.
    assert.ok(main?.placeholders.includes('python:executable'), main?.placeholders.join());
    const other = byName.get('software/demo/instance-other.cfg.in');
    assert.equal(other?.status, 'bridge', other?.error);
    assert.deepEqual(
      other?.sections.map((s) => [s.section, s.runner]),
      [
        ['code', 'bridge'],
        ['literal', 'native'],
      ],
    );
    const third = byName.get('software/demo/instance-third.cfg.in');
    assert.equal(third?.status, 'blocked', third?.error);
    assert.equal(third?.renderedBy?.kind, 'download');
    const broken = byName.get('software/demo/instance-broken.cfg.in');
    assert.equal(broken?.status, 'error');
    assert.match(
      broken?.error ?? '',
      /render \(software\/demo\/software\.cfg \[template-broken\]\).*undefined_name/,
    );
    const init = byName.get('software/demo/instance-init.cfg.in');
    assert.equal(init?.status, 'error');
    assert.match(
      init?.error ?? '',
      /render \(software\/demo\/software\.cfg \[template-init-fails\]\).*instance-init\.cfg\.in/,
    );
    const later = byName.get('software/demo/instance-instance-time.cfg.jinja2');
    assert.equal(later?.status, 'error');
    assert.match(later?.error ?? '', /no part of a software release renders or downloads it/);
    assert.equal(byName.get('stack/deep/inner/instance-stack.cfg.in')?.status, 'error');
    assert.deepEqual(
      { ...report.counts },
      { total: 7, native: 1, bridge: 1, blocked: 1, error: 4, instanceTime: 0, instanceStage: 0 },
    );
    assert.deepEqual(report.blockers, [{ recipe: 'slapos.cookbook:zabbixagent', profiles: 1 }]);
    assert.deepEqual(
      report.bridged,
      [
        { recipe: 'slapos.recipe.build', profiles: 1 },
        { recipe: 'slapos.cookbook:mkdirectory', profiles: 1 },
      ].sort((a, b) => (a.recipe < b.recipe ? -1 : 1)),
    );
    // The software release's other recipes are stubs: nothing of the profile ran.
    assert.equal(existsSync(join(root, 'software/demo/pwned')), false);
    assert.equal(
      existsSync(join(root, 'software/demo/instance.cfg')),
      false,
      'nothing is written in the checkout',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a template the software release only copies is reported as rendered at instance time', async () => {
  const root = await checkout({
    'software/demo/software.cfg': `${CHECKOUT['software/demo/software.cfg']}
[download-later]
recipe = slapos.recipe.build:download
url = \${:_profile_base_location_}/instance-instance-time.cfg.jinja2
`,
  });
  try {
    const report = await compatReport(root, { builtins: BUILTIN_RECIPES });
    const later = report.profiles.find(
      (p) => p.profile === 'software/demo/instance-instance-time.cfg.jinja2',
    );
    assert.equal(later?.status, 'error');
    assert.equal(later?.instanceTime, true);
    assert.match(later?.error ?? '', /rendered at instance time/);
    assert.equal(report.counts.instanceTime, 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/** A release that only downloads its templates: its instance.cfg renders them at instance time. */
const INSTANCE_TIME_CHECKOUT: Record<string, string> = {
  'software/app/software.cfg': `[buildout]
parts = instance-profile

[download-app]
recipe = slapos.recipe.build:download
url = \${:_profile_base_location_}/instance-app.cfg.jinja2

[download-broken]
recipe = slapos.recipe.build:download
url = \${:_profile_base_location_}/instance-broken.cfg.jinja2

[download-orphan]
recipe = slapos.recipe.build:download
url = \${:_profile_base_location_}/instance-orphan.cfg.jinja2

[instance-profile]
recipe = slapos.recipe.template:jinja2
url = \${:_profile_base_location_}/instance.cfg.in
output = \${buildout:directory}/instance.cfg
context =
  key app_template download-app:target
  key broken_template download-broken:target
`,
  'software/app/instance.cfg.in': `[buildout]
parts = switch-softwaretype

[slap-configuration]
recipe = slapos.cookbook:slapconfiguration
computer = \${slap-connection:computer-id}
partition = \${slap-connection:partition-id}
url = \${slap-connection:server-url}
key = \${slap-connection:key-file}
cert = \${slap-connection:cert-file}

[frontend]
recipe = slapos.cookbook:request
name = frontend
software-url = http://example.invalid/frontend.cfg
return = secure_access

[instance-default]
recipe = slapos.recipe.template:jinja2
url = {{ app_template }}
output = \${buildout:directory}/instance-default.cfg
context =
  section slap_configuration slap-configuration
  key slapparameter_dict slap-configuration:configuration
  key frontend_url frontend:connection-secure_access

[instance-broken]
recipe = slapos.recipe.template:jinja2
url = {{ broken_template }}
output = \${buildout:directory}/instance-broken.cfg

[switch-softwaretype]
recipe = slapos.cookbook:switch-softwaretype
default = instance-default:output
broken = instance-broken:output
`,
  'software/app/instance-app.cfg.jinja2': `{% set port = slapparameter_dict.get('port', 8080) %}
[buildout]
parts = app-wrapper

[app-wrapper]
recipe = slapos.cookbook:wrapper
command-line = app --port {{ port }} --frontend {{ frontend_url }} --ip {{ slap_configuration['ipv6-random'] }}
wrapper-path = \${buildout:directory}/bin/app

[app-state]
recipe = some.egg:unknown
`,
  'software/app/instance-broken.cfg.jinja2': '{% set x = nothing_here.attribute %}\n[buildout]\n',
  'software/app/instance-orphan.cfg.jinja2': '{% set x = slapparameter_dict %}\n[buildout]\n',
};

test('stage two: an instance-time template is rendered by the instance profile that names it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'compat-test-'));
  try {
    for (const [path, text] of Object.entries(INSTANCE_TIME_CHECKOUT)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
    const report = await compatReport(root, { builtins: BUILTIN_RECIPES });
    const byName = new Map(report.profiles.map((p) => [p.profile, p]));
    assert.equal(byName.get('software/app/instance.cfg.in')?.status, 'native');
    const app = byName.get('software/app/instance-app.cfg.jinja2');
    assert.equal(app?.status, 'blocked', app?.error);
    assert.deepEqual(app?.renderedBy, {
      software: 'software/app/instance.cfg.in',
      part: 'instance-default',
      kind: 'jinja2',
      stage: 'instance',
    });
    assert.deepEqual(
      app?.sections.map((s) => [s.section, s.runner]),
      [
        ['app-wrapper', 'native'],
        ['app-state', 'blocked'],
      ],
    );
    // Still failing once rendered by its instance profile: an error, with the rendering's message.
    const broken = byName.get('software/app/instance-broken.cfg.jinja2');
    assert.equal(broken?.status, 'error');
    assert.equal(broken?.instanceTime, true);
    assert.match(
      broken?.error ?? '',
      /render \(software\/app\/instance\.cfg\.in \[instance-broken\]\).*nothing_here/,
    );
    // Downloaded but named by no instance profile: stays unrendered.
    const orphan = byName.get('software/app/instance-orphan.cfg.jinja2');
    assert.equal(orphan?.status, 'error');
    assert.match(orphan?.error ?? '', /rendered at instance time/);
    assert.equal(report.counts.instanceStage, 1);
    assert.equal(report.counts.instanceTime, 2);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

/** A release whose instance profile reads its parameters through `slapconfiguration.jsonschema`. */
const SCHEMA_CHECKOUT: Record<string, string> = {
  'software/svc/software.cfg': `[buildout]
parts = instance-profile

[download-svc]
recipe = slapos.recipe.build:download
url = \${:_profile_base_location_}/instance-svc.cfg.jinja2

[instance-profile]
recipe = slapos.recipe.template:jinja2
url = \${:_profile_base_location_}/instance.cfg.in
output = \${buildout:directory}/instance.cfg
software-json = \${:_profile_base_location_}/software.cfg.json
context =
  key svc_template download-svc:target
  key software_json :software-json
`,
  'software/svc/instance.cfg.in': `[buildout]
parts = switch-softwaretype

[slap-configuration]
recipe = slapos.cookbook:slapconfiguration.jsonschema
jsonschema = {{ software_json }}
set-default = main
validate-parameters = main
computer = \${slap-connection:computer-id}
partition = \${slap-connection:partition-id}
url = \${slap-connection:server-url}
key = \${slap-connection:key-file}
cert = \${slap-connection:cert-file}

[instance-default]
recipe = slapos.recipe.template:jinja2
url = {{ svc_template }}
output = \${buildout:directory}/instance-default.cfg
context =
  key slapparameter_dict slap-configuration:configuration
  key port_option slap-configuration:configuration.port

[switch-softwaretype]
recipe = slapos.cookbook:switch-softwaretype
default = instance-default:output
`,
  'software/svc/software.cfg.json': JSON.stringify({
    name: 'svc',
    serialisation: 'json-in-xml',
    'software-type': { default: { title: 'Default', 'software-type': 'default', request: 'input.json' } },
  }),
  'software/svc/input.json': JSON.stringify({
    type: 'object',
    properties: { port: { type: 'integer', default: 8443 }, name: { type: 'string' } },
  }),
  'software/svc/instance-svc.cfg.jinja2': `{% set port = slapparameter_dict['port'] %}
[buildout]
parts = svc-wrapper

[svc-wrapper]
recipe = slapos.cookbook:wrapper
command-line = svc --port {{ port }} --again {{ port_option }}
wrapper-path = \${buildout:directory}/bin/svc
`,
};

test('stage two: slapconfiguration.jsonschema gives the defaults of the release schema', async () => {
  const root = await mkdtemp(join(tmpdir(), 'compat-test-'));
  try {
    for (const [path, text] of Object.entries(SCHEMA_CHECKOUT)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
    const report = await compatReport(root, { builtins: BUILTIN_RECIPES });
    const svc = report.profiles.find((p) => p.profile === 'software/svc/instance-svc.cfg.jinja2');
    assert.equal(svc?.status, 'native', svc?.error);
    assert.equal(svc?.renderedBy?.part, 'instance-default');
    assert.equal(svc?.renderedBy?.stage, 'instance');
    assert.deepEqual(
      svc?.sections.map((s) => [s.section, s.runner]),
      [['svc-wrapper', 'native']],
    );
    assert.deepEqual(svc?.placeholders, []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('npm run compat: text and JSON reports, --help, and a clear error for a path that is no checkout', async () => {
  const root = await checkout();
  try {
    const out: string[] = [];
    const err: string[] = [];
    const sink = (to: string[]) => ({ write: (text: string) => to.push(text) });
    assert.equal(await compatMain([root], sink(out), sink(err)), 0);
    const text = out.join('');
    assert.match(
      text,
      /^native +software\/demo\/instance\.cfg\.in +\(software\/demo\/software\.cfg \[instance-profile\]\)$/m,
    );
    assert.match(text, /^blocked +software\/demo\/instance-third\.cfg\.in/m);
    assert.match(text, /^Fully runnable \(native\): 1$/m);
    assert.match(text, /^ +1 +slapos\.cookbook:zabbixagent$/m);
    out.length = 0;
    assert.equal(await compatMain([root, '--json'], sink(out), sink(err)), 0);
    const json = JSON.parse(out.join('')) as { counts: { total: number } };
    assert.equal(json.counts.total, 7);
    out.length = 0;
    assert.equal(await compatMain(['--help'], sink(out), sink(err)), 0);
    assert.match(out.join(''), /Usage: npm run compat/);
    err.length = 0;
    assert.equal(await compatMain([join(root, 'software')], sink(out), sink(err)), 2);
    assert.match(err.join(''), /is not a SlapOS checkout/);
    assert.equal(await compatMain([], sink(out), sink(err)), 2);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
