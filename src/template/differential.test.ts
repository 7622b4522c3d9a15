/**
 * Differential tests: every corpus template is rendered by this engine and by the real Jinja2
 * (python3-jinja2, run once for the whole corpus) and the outputs must match byte for byte; error
 * cases must fail in both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSlapError } from '../core/errors.ts';
import {
  oracleAvailable,
  renderWithJinja2,
  type OracleCase,
  type OracleResult,
} from '../testing/jinja-oracle.ts';
import { CORPUS } from './fixtures/corpus.ts';
import { CORPUS_EDGE } from './fixtures/corpus-edge.ts';
import { CORPUS_MODULES } from './fixtures/corpus-modules.ts';
import { loadSlaposFixtures } from './fixtures/slapos.ts';
import {
  Environment,
  EXTENSION_DO,
  EXTENSION_LOOPCONTROLS,
  fromJs,
  pythonBuiltins,
  pythonModule,
  type PyValue,
} from './index.ts';

function renderOurs(c: OracleCase): OracleResult {
  try {
    const templates = c.templates ?? {};
    const env = new Environment({
      undefined: c.strict === false ? 'default' : 'strict',
      extensions: c.extensions ?? [EXTENSION_DO, EXTENSION_LOOPCONTROLS],
      loader: (name) => (Object.hasOwn(templates, name) ? templates[name] : null),
      trimBlocks: c.trimBlocks ?? false,
      lstripBlocks: c.lstripBlocks ?? false,
      keepTrailingNewline: c.keepTrailingNewline ?? false,
    });
    const context = new Map<string, PyValue>(c.builtins === false ? [] : pythonBuiltins());
    for (const [k, v] of Object.entries(c.context ?? {})) context.set(k, fromJs(v));
    for (const [k, path] of Object.entries(c.modules ?? {})) {
      const module = pythonModule(path);
      assert.ok(module, `no stand-in for Python module ${path}`);
      context.set(k, module);
    }
    return { ok: true, output: env.fromString(c.template).render(context) };
  } catch (e) {
    if (!isSlapError(e)) throw e;
    const d = (e.details ?? {}) as { type?: string; message?: string; line?: number | null };
    return { ok: false, type: d.type ?? e.code, message: d.message ?? e.message, lineno: d.line ?? null };
  }
}

const cases: OracleCase[] = [...CORPUS, ...CORPUS_EDGE, ...CORPUS_MODULES, ...loadSlaposFixtures()];

test('the corpus ids are unique', () => {
  const ids = cases.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
});

test('templates render exactly as Jinja2 renders them', { timeout: 180_000 }, async (t) => {
  assert.ok(
    oracleAvailable(),
    'python3-jinja2 is needed for the differential tests (apt-get install python3-jinja2)',
  );
  const expected = await renderWithJinja2(cases);
  for (const c of cases) {
    await t.test(c.id, () => {
      const theirs = expected.get(c.id);
      assert.ok(theirs, `no oracle result for ${c.id}`);
      const ours = renderOurs(c);
      if (c.error) {
        assert.equal(theirs.ok, false, `Jinja2 rendered ${c.id} without error: ${JSON.stringify(theirs)}`);
        assert.equal(ours.ok, false, `we rendered ${c.id} without error: ${JSON.stringify(ours)}`);
        if (!c.errorDiffers && !theirs.ok && !ours.ok) {
          assert.deepEqual([ours.type, ours.message], [theirs.type, theirs.message]);
        }
        return;
      }
      assert.ok(theirs.ok, `Jinja2 failed on ${c.id} (mark it as an error case?): ${JSON.stringify(theirs)}`);
      assert.deepEqual(ours, theirs);
    });
  }
});
