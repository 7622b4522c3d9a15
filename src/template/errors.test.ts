/** Bad input: every failure is a SlapError naming template:line, never a crash or a hang. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSlapError, type SlapError } from '../core/errors.ts';
import { Environment, EXTENSION_DO, compileTemplate, renderTemplate, type TemplateContext } from './index.ts';

function failure(fn: () => unknown): SlapError {
  try {
    fn();
  } catch (e) {
    assert.ok(isSlapError(e), `expected a SlapError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a failure');
}

function renderFailure(source: string, context: TemplateContext = {}, name = 'instance.cfg.in'): SlapError {
  return failure(() =>
    renderTemplate(source, context, { name, undefined: 'strict', extensions: [EXTENSION_DO] }),
  );
}

test('syntax errors name the template and the line, Jinja2 wording', () => {
  const e = renderFailure('line1\n{% if x %}\nline3\n{% endfor %}');
  assert.equal(e.code, 'SLAP_ERR_TEMPLATE');
  assert.equal(
    e.message,
    "instance.cfg.in:4: TemplateSyntaxError: Encountered unknown tag 'endfor'. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
  );
  assert.deepEqual(e.details, {
    template: 'instance.cfg.in',
    line: 4,
    type: 'TemplateSyntaxError',
    message: e.message.replace('instance.cfg.in:4: TemplateSyntaxError: ', ''),
  });
  assert.match(
    renderFailure('a\n{{ 1 + }}').message,
    /^instance\.cfg\.in:2: TemplateSyntaxError: unexpected 'end of print statement'$/,
  );
  assert.match(renderFailure('{% raw %}').message, /Missing end of raw directive/);
  assert.match(
    renderFailure('{{ x|nofilter }}').message,
    /TemplateAssertionError: No filter named 'nofilter'\./,
  );
});

test('undefined names under StrictUndefined fail where they are used, with a hint', () => {
  const e = renderFailure('a\nb\n{{ slapparameter_dict["port"] }}');
  assert.equal(e.message, "instance.cfg.in:3: UndefinedError: 'slapparameter_dict' is undefined");
  assert.match(e.hint ?? '', /is defined/);
  assert.match(renderFailure('{{ d.port }}', { d: {} }).message, /'dict object' has no attribute 'port'/);
  assert.equal(renderTemplate('[{{ x }}]'), '[]', 'the default Undefined prints empty');
});

test('type errors use Python wording', () => {
  assert.match(
    renderFailure("{{ 1 + 'a' }}").message,
    /TypeError: unsupported operand type\(s\) for \+: 'int' and 'str'/,
  );
  assert.match(
    renderFailure('{{ (1).nope() }}').message,
    /UndefinedError: 'int object' has no attribute 'nope'/,
  );
  assert.match(renderFailure('{{ 1 / 0 }}').message, /ZeroDivisionError: division by zero/);
  assert.match(
    renderFailure("{{ '%d' % 'x' }}").message,
    /TypeError: %d format: a real number is required, not str/,
  );
});

test('errors inside imported templates and macros name the right template and line', () => {
  const env = new Environment({
    undefined: 'strict',
    loader: (name) => (name === 'lib.jinja2' ? '{% macro m() %}\n\n{{ nope }}{% endmacro %}' : null),
  });
  const t = env.fromString("{% import 'lib.jinja2' as lib %}\n{{ lib.m() }}", { name: 'main' });
  const e = failure(() => t.render());
  assert.equal(e.message, "lib.jinja2:3: UndefinedError: 'nope' is undefined");
  const broken = new Environment({ loader: () => '{% if %}' }).fromString("{% include 'other' %}", {
    name: 'main',
  });
  assert.match(failure(() => broken.render()).message, /^other:1: TemplateSyntaxError: /);
  assert.match(
    failure(() => env.fromString("{% include 'missing' %}").render()).message,
    /TemplateNotFound: missing/,
  );
});

test('unknown extensions are refused by name', () => {
  const e = failure(() => new Environment({ extensions: ['jinja2.ext.i18n'] }));
  assert.match(e.message, /unknown Jinja2 extension 'jinja2\.ext\.i18n'/);
  assert.match(renderFailure('{% break %}').message, /Encountered unknown tag 'break'/);
});

test('runaway recursion becomes a RecursionError, not a crash', () => {
  assert.match(
    renderFailure('{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}').message,
    /RecursionError: maximum recursion depth exceeded/,
  );
  const env = new Environment({ loader: () => "{% include 'self' %}" });
  assert.match(failure(() => env.fromString("{% include 'self' %}").render()).message, /RecursionError/);
});

test('absurdly nested templates fail cleanly', () => {
  assert.match(
    renderFailure('{{ ' + '('.repeat(20000) + '1' + ')'.repeat(20000) + ' }}').message,
    /nested too deeply/,
  );
  assert.match(
    renderFailure('{% if 1 %}'.repeat(5000) + '{% endif %}'.repeat(5000)).message,
    /nested too deeply|RecursionError/,
  );
});

test('huge values fail cleanly', () => {
  assert.match(renderFailure("{{ 'x' * 10**12 }}").message, /MemoryError/);
  assert.match(renderFailure('{{ 2 ** (10**10) }}').message, /MemoryError/);
});

test('a render past its deadline, or aborted, stops with SLAP_ERR_TIMEOUT', () => {
  const loop = compileTemplate('{% for i in range(10**12) %}{% endfor %}');
  assert.equal(failure(() => loop.render({}, { timeoutMs: 50 })).code, 'SLAP_ERR_TIMEOUT');
  const materialise = compileTemplate('{{ range(10**12)|list|length }}');
  assert.equal(failure(() => materialise.render({}, { timeoutMs: 50 })).code, 'SLAP_ERR_TIMEOUT');
  const macros = compileTemplate(
    '{% macro m(n) %}{% for i in range(3) %}{{ m(n + 1) if n < 30 }}{% endfor %}{% endmacro %}{{ m(0) }}',
  );
  assert.equal(failure(() => macros.render({}, { timeoutMs: 50 })).code, 'SLAP_ERR_TIMEOUT');
  assert.equal(
    failure(() => compileTemplate('x').render({}, { signal: AbortSignal.abort() })).code,
    'SLAP_ERR_TIMEOUT',
  );
});

test('random garbage never crashes the engine (fuzz)', () => {
  const pieces = [
    '{{',
    '}}',
    '{%',
    '%}',
    '{#',
    '#}',
    '-',
    '+',
    'if',
    'for',
    'x',
    'in',
    'endif',
    'endfor',
    'set',
    '=',
    '(',
    ')',
    '[',
    ']',
    '{',
    '}',
    "'s'",
    '"',
    '1',
    '2.5',
    '|',
    'default',
    'is',
    'defined',
    'not',
    ',',
    '.',
    ':',
    'macro',
    'endmacro',
    'raw',
    'endraw',
    '\n',
    ' ',
    '%',
    '~',
    '**',
    '//',
    'loop',
    'range',
    'do',
    'call',
    'caller',
    'none',
    'import',
    'as',
    'include',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    '__class__',
    '()',
    "''",
    '\\',
    'é',
  ];
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let n = 0; n < 3000; n++) {
    const length = 1 + Math.floor(random() * 20);
    let source = '';
    for (let i = 0; i < length; i++) source += pieces[Math.floor(random() * pieces.length)]!;
    try {
      renderTemplate(
        source,
        { x: [1, 2] },
        { extensions: [EXTENSION_DO], undefined: random() < 0.5 ? 'strict' : 'default' },
      );
    } catch (e) {
      assert.ok(isSlapError(e), `non-SlapError for ${JSON.stringify(source)}: ${String(e)}`);
      assert.equal(e.code, 'SLAP_ERR_TEMPLATE', `${JSON.stringify(source)}: ${e.message}`);
    }
  }
});

test('JavaScript internals are not reachable from templates', () => {
  const out = renderTemplate(
    "{{ 'a'.constructor is defined }} {{ {}.__proto__ is defined }} {{ [].toString is defined }} {{ x.constructor is defined }}",
    { x: { a: 1 } },
  );
  assert.equal(out, 'False False False False');
  assert.match(
    renderFailure("{{ ''.constructor() }}").message,
    /UndefinedError: 'str object' has no attribute 'constructor'/,
  );
  assert.match(
    failure(() => new Environment({ extensions: ['constructor'] })).message,
    /unknown Jinja2 extension/,
  );
});
