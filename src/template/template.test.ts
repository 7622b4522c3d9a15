/** One test per template construct (expected outputs checked against Jinja2 3.1 by hand and by the differential corpus). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Environment,
  EXTENSION_DO,
  EXTENSION_LOOPCONTROLS,
  compileTemplate,
  pyStr,
  pythonBuiltins,
  pythonModule,
  renderTemplate,
  type CompileOptions,
  type PyValue,
  type TemplateContext,
} from './index.ts';

const EXT = [EXTENSION_DO, EXTENSION_LOOPCONTROLS];

function r(source: string, context: TemplateContext = {}, options: CompileOptions = {}): string {
  return renderTemplate(source, context, { undefined: 'strict', extensions: EXT, ...options });
}

test('print: text, variables and Python str() of values', () => {
  assert.equal(r('Hello {{ name }}!', { name: 'World' }), 'Hello World!');
  assert.equal(
    r("{{ [1, 'a', None, True] }} {{ {'a': 1} }} {{ (1,) }} {{ none }}"),
    "[1, 'a', None, True] {'a': 1} (1,) None",
  );
  assert.equal(r('{% print 1, "x" %}'), '1x');
});

test('set: simple, tuple unpacking, block set with filter', () => {
  assert.equal(r('{% set a, (b, c) = 1, (2, 3) %}{{ a }}{{ b }}{{ c }}'), '123');
  assert.equal(r('{% set x %}a{{ 1 }}{% endset %}[{{ x }}]'), '[a1]');
  assert.equal(r('{% set x | upper %}abc{% endset %}{{ x }}'), 'ABC');
});

test('if / elif / else', () => {
  const t = compileTemplate('{% if x > 1 %}big{% elif x == 1 %}one{% else %}small{% endif %}', {
    undefined: 'strict',
  });
  assert.deepEqual([t.render({ x: 5 }), t.render({ x: 1 }), t.render({ x: 0 })], ['big', 'one', 'small']);
});

test('for: loop variables, else, filter, unpacking', () => {
  assert.equal(
    r(
      '{% for c in "ab" %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}',
    ),
    '102TrueFalse2;211FalseTrue2;',
  );
  assert.equal(r('{% for x in [] %}x{% else %}empty{% endfor %}'), 'empty');
  assert.equal(
    r('{% for i in range(6) if i is even %}{{ i }}/{{ loop.length }} {% endfor %}'),
    '0/3 2/3 4/3 ',
  );
  assert.equal(r("{% for k, v in {'a': 1}.items() %}{{ k }}={{ v }}{% endfor %}"), 'a=1');
  assert.equal(r("{% for i in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), 'abab');
  assert.equal(
    r(
      '{% for i in [1, 2] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}',
      {},
      { undefined: 'default' },
    ),
    '-2;1-;',
  );
});

test('for: recursive loops', () => {
  const tree = [{ name: 'a', children: [{ name: 'b', children: [] }] }];
  assert.equal(
    r('{% for n in tree recursive %}{{ loop.depth }}{{ n.name }}[{{ loop(n.children) }}]{% endfor %}', {
      tree,
    }),
    '1a[2b[]]',
  );
});

test('break and continue (jinja2.ext.loopcontrols)', () => {
  assert.equal(
    r(
      '{% for i in range(9) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}',
    ),
    '023',
  );
});

test('do (jinja2.ext.do) mutates Python values', () => {
  assert.equal(r('{% set l = [] %}{% do l.append(1) %}{% do l.extend([2, 3]) %}{{ l }}'), '[1, 2, 3]');
  assert.equal(
    r("{% set d = {} %}{% do d.__setitem__('k', 'v') %}{% do d.update(a=1) %}{{ d }}"),
    "{'k': 'v', 'a': 1}",
  );
});

test('macro: defaults, varargs, kwargs, late binding of template variables', () => {
  assert.equal(r('{% macro m(a, b=a * 2) %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, 5) }}'), '1215');
  assert.equal(
    r('{% macro m(a) %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}'),
    "(2,){'k': 3}",
  );
  assert.equal(
    r('{% macro m() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}'),
    '12',
  );
});

test('call blocks pass a caller (with arguments)', () => {
  assert.equal(r('{% macro m() %}<{{ caller() }}>{% endmacro %}{% call m() %}in{% endcall %}'), '<in>');
  assert.equal(
    r(
      '{% macro each(l) %}{% for i in l %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}[{{ x }}]{% endcall %}',
    ),
    '[1][2]',
  );
});

test('import, import with context, from import, include', () => {
  const templates: Record<string, string> = {
    lib: '{% macro hi(n) %}hi {{ n }}{{ suffix | default("") }}{% endmacro %}{% set value = 42 %}',
    part: '[{{ x }}]',
  };
  const loader = (name: string): string | null => (Object.hasOwn(templates, name) ? templates[name]! : null);
  assert.equal(r("{% import 'lib' as lib %}{{ lib.hi('a') }} {{ lib.value }}", {}, { loader }), 'hi a 42');
  assert.equal(
    r("{% set suffix = '!' %}{% import 'lib' as lib with context %}{{ lib.hi('b') }}", {}, { loader }),
    'hi b!',
  );
  assert.equal(r("{% from 'lib' import hi as h, value %}{{ h('c') }}{{ value }}", {}, { loader }), 'hi c42');
  assert.equal(r("{% for x in [1, 2] %}{% include 'part' %}{% endfor %}", {}, { loader }), '[1][2]');
  assert.equal(r("{% include 'missing' ignore missing %}ok", {}, { loader }), 'ok');
});

test('extends, block and super()', () => {
  const loader = (name: string): string | null =>
    name === 'base' ? '<{% block body %}base{% endblock %}>' : null;
  assert.equal(
    r("{% extends 'base' %}{% block body %}child+{{ super() }}{% endblock %}", {}, { loader }),
    '<child+base>',
  );
});

test('with, filter blocks, namespace', () => {
  assert.equal(r('{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}'), '3');
  assert.equal(r('{% filter upper %}abc{% endfilter %}'), 'ABC');
  assert.equal(
    r('{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}'),
    '3',
  );
});

test('raw and comments', () => {
  assert.equal(r('{% raw %}{{ x }}{% endraw %}'), '{{ x }}');
  assert.equal(r('a{# {{ nothing }} #}b'), 'ab');
});

test('whitespace control: -, trim_blocks, lstrip_blocks, trailing newline', () => {
  assert.equal(r('a  \n  {%- if true -%}  \n  b  {%- endif %}'), 'ab');
  assert.equal(r('x\n'), 'x');
  assert.equal(r('x\n', {}, { keepTrailingNewline: true }), 'x\n');
  assert.equal(r('{% if true %}\nyes\n{% endif %}\n', {}, { trimBlocks: true }), 'yes\n');
  assert.equal(
    r('  {% if true %}\nyes\n  {% endif %}', {}, { lstripBlocks: true, trimBlocks: true }),
    'yes\n',
  );
  assert.equal(r('a\r\nb'), 'a\nb');
});

test('autoescape is off by default, on when asked', () => {
  assert.equal(r('{{ "<b>" }}'), '<b>');
  assert.equal(r('{{ "<b>" }}{{ "<i>"|safe }}', {}, { autoescape: true }), '&lt;b&gt;<i>');
  assert.equal(r('{% autoescape true %}{{ "<" }}{% endautoescape %}{{ "<" }}'), '&lt;<');
});

test('filters used by SlapOS templates', () => {
  const users = [
    { name: 'b', age: 2 },
    { name: 'a', age: 1 },
  ];
  assert.equal(r("{{ users|sort(attribute='age')|map(attribute='name')|join(',') }}", { users }), 'a,b');
  assert.equal(r("{{ users|selectattr('age', '==', 2)|map(attribute='name')|list }}", { users }), "['b']");
  assert.equal(r("{{ {'b': 1, 'a': 2}|dictsort }}"), "[('a', 2), ('b', 1)]");
  assert.equal(r("{{ {'b': [1, None], 'a': '<'}|tojson }}"), '{"a": "\\u003c", "b": [1, null]}');
  assert.equal(
    r("{{ 'x'|default('d') }} {{ y|default('d') }} {{ '3'|int + 1 }} {{ 'a b'|replace(' ', '_')|upper }}"),
    'x d 4 A_B',
  );
  assert.equal(r("{{ 'a\\nb'|indent(2) }}"), 'a\n  b');
  assert.equal(
    r("{{ [1, 1, 2]|unique|list }} {{ [3, 1]|min }} {{ [1.5, 2]|sum }} {{ 'ab'|length }}"),
    '[1, 2] 1 3.5 2',
  );
  assert.equal(r("{{ {'a b': 'c&d'}|urlencode }}"), 'a+b=c%26d');
});

test('tests used by SlapOS templates', () => {
  assert.equal(
    r(
      '{{ x is defined }} {{ none is none }} {{ false is false }} {{ true is boolean }} {{ 3 is divisibleby 3 }}',
    ),
    'False True True True True',
  );
});

test('the recipe builtins: len, str, int, sorted, enumerate, isinstance…', () => {
  const ctx = new Map(pythonBuiltins());
  const t = compileTemplate(
    "{{ len([1, 2]) }} {{ str(1) + 'x' }} {{ int('7') * 2 }} {{ sorted({'b': 1, 'a': 2}) }} {{ list(enumerate('ab')) }} {{ isinstance(1, int) }} {{ repr('q') }}",
    { undefined: 'strict' },
  );
  assert.equal(t.render(ctx), "2 1x 14 ['a', 'b'] [(0, 'a'), (1, 'b')] True 'q'");
});

test('a template compiles once and renders many times with different contexts', () => {
  const env = new Environment({ undefined: 'strict', extensions: EXT });
  const t = env.fromString('{% set l = [] %}{% do l.append(n) %}{{ l }}');
  assert.equal(t.render({ n: 1 }), '[1]');
  assert.equal(t.render({ n: 2 }), '[2]');
});

test('custom globals and filters', () => {
  const out = renderTemplate(
    '{{ greet(name)|shout }}',
    { name: 'bob' },
    {
      globals: { greet: (n: unknown) => `hi ${String(n)}` },
      filters: { shout: (_ctx, v) => `${pyStr(v).toUpperCase()}!` },
    },
  );
  assert.equal(out, 'HI BOB!');
});

test('a missing attribute of a module stand-in names the module and the attribute', () => {
  const ctx = new Map<string, PyValue>([['os', pythonModule('os')!]]);
  assert.throws(
    () => new Environment({ undefined: 'strict' }).fromString('{{ os.path.realpathx("/") }}').render(ctx),
    /module 'os.path' has no attribute 'realpathx' in this engine \(its stand-in provides: .*join/,
  );
  assert.equal(pythonModule('subprocess'), null);
});
