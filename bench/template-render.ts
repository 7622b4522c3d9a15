/**
 * Template engine benchmark: compile once, render many, on SlapOS-shaped templates from the
 * differential fixtures (scaled up). Prints figures; with /usr/bin/python3 + python3-jinja2 present
 * it also times the real Jinja2 on the same templates for comparison.
 *
 *   node --import tsx bench/template-render.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadSlaposFixtures } from '../src/template/fixtures/slapos.ts';
import {
  Environment,
  EXTENSION_DO,
  EXTENSION_LOOPCONTROLS,
  fromJs,
  pythonBuiltins,
  type PyValue,
} from '../src/template/index.ts';

interface BenchCase {
  name: string;
  template: string;
  templates: Record<string, string>;
  context: Record<string, unknown>;
}

function scaledSlaveContext(count: number): Record<string, unknown> {
  const slaves = Array.from({ length: count }, (_, i) => ({
    slave_reference: `_slave${String(i).padStart(4, '0')}`,
    type: i % 7 === 0 ? 'zope' : 'default',
    custom_domain: `s${i}.example.com`,
    'server-alias': `*.a${i}.example.com b${i}.example.com`,
    ciphers: i % 3 === 0 ? 'RSA-AES128-CBC-SHA' : '',
    'health-check': i % 2 === 0,
    'health-check-timeout': String(i % 5),
  }));
  return {
    slapparameter_dict: { '-frontend-quantity': '3', '-sla-1-computer_guid': 'COMP-1' },
    instance_parameter_dict: { 'slave-instance-list': slaves },
  };
}

const fixtures = loadSlaposFixtures();
const byId = new Map(fixtures.map((f) => [f.id, f]));
const cases: BenchCase[] = [];
for (const id of ['slapos/helloworld', 'slapos/mariadb-parts', 'slapos/caucase-library']) {
  const f = byId.get(id)!;
  cases.push({ name: id, template: f.template, templates: f.templates ?? {}, context: f.context ?? {} });
}
const cdn = byId.get('slapos/cdn-slave-validation')!;
cases.push({
  name: 'cdn-slave-validation x500 slaves',
  template: cdn.template,
  templates: {},
  context: scaledSlaveContext(500),
});

/** Renders for about `budgetMs` after a warm-up (the JIT needs a few hundred renders). */
function timeRenders(render: () => void, budgetMs: number): { perRenderMs: number; count: number } {
  for (let i = 0; i < 300; i++) render();
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs) {
    for (let i = 0; i < 10; i++) render();
    count += 10;
  }
  return { perRenderMs: (performance.now() - t0) / count, count };
}

console.log(
  `template engine benchmark — Node ${process.version}; every render gets a freshly converted context`,
);
const results: Record<string, number> = {};
for (const c of cases) {
  const env = new Environment({
    undefined: 'strict',
    extensions: [EXTENSION_DO, EXTENSION_LOOPCONTROLS],
    loader: (n) => (Object.hasOwn(c.templates, n) ? c.templates[n] : null),
  });
  const t0 = performance.now();
  const tpl = env.fromString(c.template);
  const compileMs = performance.now() - t0;
  const builtins = pythonBuiltins();
  const json = JSON.stringify(c.context);
  let size = 0;
  const render = (): void => {
    const context = new Map<string, PyValue>(builtins);
    for (const [k, v] of Object.entries(JSON.parse(json) as Record<string, unknown>))
      context.set(k, fromJs(v));
    size = tpl.render(context).length;
  };
  const { perRenderMs, count } = timeRenders(render, 1000);
  results[c.name] = perRenderMs;
  console.log(
    `${c.name.padEnd(36)} compile ${compileMs.toFixed(2).padStart(7)} ms   render ${perRenderMs.toFixed(3).padStart(8)} ms   ` +
      `${(1000 / perRenderMs).toFixed(0).padStart(7)} renders/s   (${count} renders, output ${size} chars)`,
  );
}

const PYTHON = '/usr/bin/python3';
if (existsSync(PYTHON)) {
  const script = String.raw`
import json, sys, time, jinja2
cases = json.load(sys.stdin)
builtins_list = (abs, all, any, bool, dict, enumerate, float, int, isinstance, len, list, max, min, range, repr, sorted, str, sum, tuple, zip)
for c in cases:
    env = jinja2.Environment(extensions=['jinja2.ext.do', 'jinja2.ext.loopcontrols'], undefined=jinja2.StrictUndefined, loader=jinja2.DictLoader(c['templates']))
    t = env.from_string(c['template'])
    ctx = {x.__name__: x for x in builtins_list}
    ctx.update(c['context'])
    text = json.dumps(c['context'])
    # contexts are mutated by some templates: every render gets a fresh copy, as on our side
    for i in range(50): t.render(**{**ctx, **json.loads(text)})
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        for i in range(10): t.render(**{**ctx, **json.loads(text)})
        n += 10
    print(c['name'], (time.perf_counter() - t0) / n * 1000)
`;
  try {
    const out = execFileSync(PYTHON, ['-c', script], {
      input: JSON.stringify(cases),
      encoding: 'utf8',
      timeout: 300_000,
    });
    console.log('\nreal Jinja2 (python3-jinja2) on the same cases, same fresh context per render:');
    for (const line of out.trim().split('\n')) {
      const idx = line.lastIndexOf(' ');
      const name = line.slice(0, idx);
      const ms = Number(line.slice(idx + 1));
      const ours = results[name];
      console.log(
        `${name.padEnd(36)} render ${ms.toFixed(3).padStart(8)} ms   ours/jinja2 = ${ours ? (ours / ms).toFixed(2) : '?'}`,
      );
    }
  } catch (e) {
    console.log(`(python3-jinja2 not usable for comparison: ${(e as Error).message.split('\n')[0]})`);
  }
}
