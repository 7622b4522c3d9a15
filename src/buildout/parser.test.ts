import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../core/errors.ts';
import { dedent, parseProfile, type RawConfig } from './parser.ts';

function values(config: RawConfig): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, section] of config)
    out[name] = Object.fromEntries([...section].map(([k, o]) => [k, o.value]));
  return out;
}

test('§1.11-1 comments: only column-0 # and ; lines, indented # lines are data, no inline comments', () => {
  const config = parseProfile(
    [
      '[a]',
      'x = 1 # not a comment',
      '# comment',
      '; comment',
      'y = first',
      '  # indented comment',
      '    ; data too',
      '',
    ].join('\n'),
    'c.cfg',
  );
  assert.deepEqual(values(config), {
    a: { x: '1 # not a comment', y: 'first\n# indented comment\n; data too' },
  });
});

test('§1.11-2 inline and block continuation modes, dedent and blank lines (example 1.1-a)', () => {
  const text = [
    '[a]',
    'inline = first',
    '    second',
    '      third',
    '',
    '    fourth',
    '# col0 comment',
    '  # indented comment',
    '    fifth ; not a comment',
    'block =',
    '    l1',
    '      l2 indented',
    '',
    '    l3',
    '# comment in block',
    '    l4',
    'empty =',
    'x=1',
    'trail = value # not a comment',
  ].join('\n');
  assert.deepEqual(values(parseProfile(text, 'a.cfg')).a, {
    inline: 'first\nsecond\nthird\nfourth\n# indented comment\nfifth ; not a comment',
    block: 'l1\n  l2 indented\n\nl3\nl4',
    empty: '',
    x: '1',
    trail: 'value # not a comment',
  });
});

test('§1.11-2 a column-0 comment inside a block does not end it (example 1.1-b)', () => {
  const text = [
    '[t]',
    'context =',
    '  section buildout buildout',
    '# partition_ipv6 is the random ipv6 allocated to the local partition',
    '  key partition_ipv6 slap-configuration:ipv6-random',
  ].join('\n');
  assert.equal(
    values(parseProfile(text, 't.cfg')).t?.context,
    'section buildout buildout\nkey partition_ipv6 slap-configuration:ipv6-random',
  );
});

test('§1.11-2 block values lose leading blank lines and trailing whitespace; CRLF is read as LF', () => {
  const text = '[a]\r\nb =\r\n\r\n\r\n   one  \r\n     two\r\n\r\n';
  assert.equal(values(parseProfile(text, 'a.cfg')).a?.b, 'one\n  two');
});

test('dedent matches textwrap.dedent (tabs and spaces are different margins)', () => {
  assert.equal(dedent('\n  a\n    b\n'), '\na\n  b\n');
  assert.equal(dedent('\n\ta\n  b'), '\n\ta\n  b');
  assert.equal(dedent('\n  a\n   \n  b'), '\na\n\nb');
});

test('§1.11-3 a reopened section merges, a duplicate key keeps the last value, += keys are kept as "k +"', () => {
  const text = [
    '[s]',
    'a = 1',
    'b = 1',
    '[t]',
    'x = y',
    '[s]',
    'a = 2',
    'parts += x',
    'parts += y',
    'n-=z',
    '< = base',
  ].join('\n');
  assert.deepEqual(values(parseProfile(text, 's.cfg')), {
    s: { a: '2', b: '1', 'parts +': 'y', 'n-': 'z', '<': 'base' },
    t: { x: 'y' },
  });
});

test('option sources record file and line', () => {
  const config = parseProfile('[a]\n\nx = 1\ny =\n  2\n', 'f.cfg');
  assert.deepEqual(config.get('a')?.get('y')?.source, { file: 'f.cfg', line: 4 });
  assert.deepEqual(config.get('a')?.get('x')?.source, { file: 'f.cfg', line: 3 });
});

test('section headers allow spaces and a trailing comment; => is <part-dependencies>', () => {
  const text = ['[ spaced ]  # comment', 'a = 1', '[deps] ; c', '=> one two', ''].join('\n');
  assert.deepEqual(values(parseProfile(text, 'h.cfg')), {
    spaced: { a: '1' },
    deps: { '<part-dependencies>': 'one two' },
  });
});

test('§1.11-4 conditional sections: false ones are skipped, true ones kept', () => {
  const text = [
    '[a]',
    'x = 1',
    '[b:python2]',
    'x = py2',
    '  more',
    '[b:python3]',
    'y = py3',
    '[c:python_version >= "3.8" and os_name == "posix"]',
    'z = marker',
    '[d:sys.version_info < (3, 0)]',
    'w = old',
    '[e:linux or macosx or windows]',
    'v = os',
  ].join('\n');
  assert.deepEqual(values(parseProfile(text, 'c.cfg')), {
    a: { x: '1' },
    b: { y: 'py3' },
    c: { z: 'marker' },
    e: { v: 'os' },
  });
});

test('syntax errors are all reported with file:line', () => {
  const text = [
    '[a]',
    'x = 1',
    'key: value',
    '  ok continuation',
    '[b]',
    '  indented after header',
    'no equals sign',
  ].join('\n');
  assert.throws(
    () => parseProfile(text, '/p/bad.cfg'),
    (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_PROFILE_SYNTAX');
      assert.match(error.message, /\/p\/bad\.cfg:3: not an option.*written `key: value`/);
      assert.match(error.message, /\/p\/bad\.cfg:6: /);
      assert.match(error.message, /\/p\/bad\.cfg:7: not an option, a section header or a comment/);
      // The line's text is never quoted: the file may hold secrets (it may not be a profile).
      assert.doesNotMatch(error.message, /no equals sign|indented after header/);
      assert.doesNotMatch(error.message, /:4:/);
      return true;
    },
  );
});

test('an option before any section is an error with file:line', () => {
  assert.throws(
    () => parseProfile('\n\nx = 1\n[a]\n', 'top.cfg'),
    /top\.cfg:3: option outside of any section/,
  );
});

test('a condition that cannot be evaluated is an error naming the file, line and section', () => {
  assert.throws(
    () => parseProfile('[a]\nx = 1\n[b:open("/etc/passwd").read()]\ny = 2\n', 'cond.cfg'),
    (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_PROFILE_SYNTAX');
      assert.match(
        error.message,
        /cond\.cfg:3: cannot evaluate the condition of section \[b\]: name 'open' is not supported/,
      );
      return true;
    },
  );
  assert.throws(
    () => parseProfile('[b:python3 and]\n', 'cond.cfg'),
    /cond\.cfg:1: .*unexpected end of expression/,
  );
});

test('lines break at \\n, \\r\\n and \\r only: U+2028, U+2029 and U+0085 are data, as Python reads files', () => {
  const text = '[a]\nx = 1\u20282\u2029 3\x85\nblock =\n    l1\n    a\u2028  b\n';
  const config = parseProfile(text, 'f.cfg');
  assert.equal(config.get('a')?.get('x')?.value, '1\u20282\u2029 3\x85');
  assert.equal(config.get('a')?.get('block')?.value, 'l1\na\u2028  b');
});
