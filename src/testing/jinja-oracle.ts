/**
 * Differential-test oracle: renders a batch of templates with the real Jinja2 (Debian's
 * python3-jinja2, a test-only dependency) in one Python subprocess, JSON in → JSON out.
 * The environment mirrors slapos.recipe.template:jinja2 (StrictUndefined, the recipe's Python
 * builtins in the render context) unless a case says otherwise.
 */
import { existsSync } from 'node:fs';
import { execFile } from '../lib/exec.ts';

export const ORACLE_PYTHON = '/usr/bin/python3';

export interface OracleCase {
  id: string;
  template: string;
  /** Other templates, for import/include/extends (a DictLoader). */
  templates?: Record<string, string>;
  /** JSON context (ints stay ints, non-integral numbers are floats). */
  context?: Record<string, unknown>;
  /** StrictUndefined (default true, as the recipe) or Jinja's default Undefined. */
  strict?: boolean;
  /** Default: jinja2.ext.do and jinja2.ext.loopcontrols. */
  extensions?: string[];
  /** Python modules put in the context, as the recipe's `import NAME module.path` lines: name → module path. */
  modules?: Record<string, string>;
  /** Put the recipe's Python builtins (len, str, sorted…) in the context (default true). */
  builtins?: boolean;
  trimBlocks?: boolean;
  lstripBlocks?: boolean;
  keepTrailingNewline?: boolean;
  /** The case is expected to fail in both engines (with the same error type and message). */
  error?: boolean;
  /** For error cases whose error type or message legitimately differs: only check both fail. */
  errorDiffers?: boolean;
}

export type OracleResult =
  { ok: true; output: string } | { ok: false; type: string; message: string; lineno: number | null };

const SCRIPT = String.raw`
import importlib, json, sys
import jinja2
cases = json.load(sys.stdin)
builtins_list = (abs, all, any, bin, bool, bytes, callable, chr, complex, dict, divmod,
  enumerate, filter, float, format, frozenset, hex, int, isinstance, iter, len, list, map, max,
  min, next, oct, ord, pow, range, repr, reversed, round, set, sorted, str, sum, tuple, zip)
DEFAULT_CONTEXT = {x.__name__: x for x in builtins_list}
def _assert(x, *args):
    if x:
        return ""
    raise AssertionError(*args)
DEFAULT_CONTEXT['assert'] = _assert
results = {}
for case in cases:
    try:
        env = jinja2.Environment(
            extensions=case.get('extensions', ['jinja2.ext.do', 'jinja2.ext.loopcontrols']),
            undefined=jinja2.StrictUndefined if case.get('strict', True) else jinja2.Undefined,
            loader=jinja2.DictLoader(case.get('templates', {})),
            trim_blocks=case.get('trimBlocks', False),
            lstrip_blocks=case.get('lstripBlocks', False),
            keep_trailing_newline=case.get('keepTrailingNewline', False),
        )
        context = dict(DEFAULT_CONTEXT) if case.get('builtins', True) else {}
        context.update(case.get('context', {}))
        for name, path in case.get('modules', {}).items():
            context[name] = importlib.import_module(path)
        out = env.from_string(case['template']).render(**context)
        results[case['id']] = {'ok': True, 'output': out}
    except Exception as e:
        results[case['id']] = {'ok': False, 'type': type(e).__name__, 'message': str(e), 'lineno': getattr(e, 'lineno', None)}
json.dump(results, sys.stdout)
`;

export function oracleAvailable(): boolean {
  return existsSync(ORACLE_PYTHON);
}

/** Renders every case with the real Jinja2; results keyed by case id. */
export async function renderWithJinja2(cases: readonly OracleCase[]): Promise<Map<string, OracleResult>> {
  const result = await execFile(ORACLE_PYTHON, ['-c', SCRIPT], {
    input: JSON.stringify(cases),
    timeoutMs: 120_000,
    maxOutputBytes: 64 * 1024 * 1024,
  });
  if (result.exitCode !== 0) {
    throw new Error(`the Jinja2 oracle failed (exit ${result.exitCode}): ${result.stderr.slice(-2000)}`);
  }
  const parsed = JSON.parse(result.stdout) as Record<string, OracleResult>;
  return new Map(Object.entries(parsed));
}
