import { renderWithJinja2 } from '../testing/jinja-oracle.ts';
import { CORPUS } from './fixtures/corpus.ts';
import { Environment, EXTENSION_DO, EXTENSION_LOOPCONTROLS, fromJs, pythonBuiltins, type PyValue } from './index.ts';
import { isSlapError } from '../core/errors.ts';
const cases = CORPUS.filter((c) => c.error);
const expected = await renderWithJinja2(cases);
for (const c of cases) {
  const templates = c.templates ?? {};
  let ours = '';
  try {
    const env = new Environment({ undefined: c.strict === false ? 'default' : 'strict', extensions: c.extensions ?? [EXTENSION_DO, EXTENSION_LOOPCONTROLS], loader: (n) => (Object.hasOwn(templates, n) ? templates[n] : null) });
    const context = new Map<string, PyValue>(c.builtins === false ? [] : pythonBuiltins());
    for (const [k, v] of Object.entries(c.context ?? {})) context.set(k, fromJs(v));
    ours = 'OK ' + env.fromString(c.template).render(context);
  } catch (e) { ours = isSlapError(e) ? e.message : 'CRASH ' + String(e); }
  const t = expected.get(c.id)!;
  const theirs = t.ok ? 'OK ' + t.output : `${t.type}: ${t.message} (line ${t.lineno})`;
  console.log(`${c.id}\n   jinja: ${theirs}\n   ours:  ${ours}`);
}
