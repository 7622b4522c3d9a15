import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machine, release } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { evaluateCondition, parseOsRelease } from './conditions.ts';

test('predefined names describe an emulated CPython 3.11 on this machine', () => {
  assert.equal(evaluateCondition('python3'), true);
  assert.equal(evaluateCondition('python2'), false);
  assert.equal(evaluateCondition('python311'), true);
  assert.equal(evaluateCondition('python310 or python27'), false);
  assert.equal(evaluateCondition('cpython and not pypy'), true);
  assert.equal(evaluateCondition('linux'), process.platform === 'linux');
  assert.equal(evaluateCondition('posix'), true);
  assert.equal(evaluateCondition('bits64 != bits32'), true);
  assert.equal(evaluateCondition(`platform.machine() == "${machine()}"`), true);
  assert.equal(evaluateCondition('linux and platform.machine() == "no-such-arch"'), false);
});

test('sys.version_info compares as a tuple and has named fields', () => {
  assert.equal(evaluateCondition('sys.version_info < (3,8)'), false);
  assert.equal(evaluateCondition('sys.version_info >= (3, 11)'), true);
  assert.equal(evaluateCondition('sys.version_info[:2] == (3, 11)'), true);
  assert.equal(evaluateCondition('sys.version_info.major == 3'), true);
});

test('PEP 508 markers compare versions numerically', () => {
  assert.equal(evaluateCondition('python_version < "3.9"'), false);
  assert.equal(evaluateCondition('python_version >= "3.10"'), true, '3.11 >= 3.10 as versions, not strings');
  assert.equal(evaluateCondition(`platform_machine == "${machine()}" and os_name == "posix"`), true);
  assert.equal(evaluateCondition('"linux" in sys_platform or sys_platform == "darwin"'), true);
});

test('\\x23 and \\x3b stand for # and ;', () => {
  assert.equal(evaluateCondition('"a\\x23b" == "a" + "#" + "b"'), true);
  assert.equal(evaluateCondition('"\\x3b" == ";"'), true);
});

test('anything outside the subset is refused, never evaluated', () => {
  assert.throws(
    () => evaluateCondition('__import__("os").system("true")'),
    /name '__import__' is not supported/,
  );
  assert.throws(() => evaluateCondition('os.system("true")'), /os\.system is not supported/);
  assert.throws(() => evaluateCondition('lambda: 1'), /'lambda' is not supported/);
  assert.throws(() => evaluateCondition('{x for x in y}'), /comprehensions are not supported/);
  assert.throws(() => evaluateCondition('[x for x in y]'), /name 'y' is not supported/);
});

test('int() reads base-10 text, bools and numbers, and refuses anything else', () => {
  assert.equal(evaluateCondition("int(' 12 ') == 12 and int('-1_000') == -1000 and int() == 0"), true);
  assert.equal(evaluateCondition('int(True) + int(2.9) == 3'), true);
  assert.equal(evaluateCondition("int('12345678901234567890') > 2 ** 60"), true);
  for (const bad of ["int('1.5')", "int('')", "int('0x10')", "int('1__0')", 'int(None)']) {
    assert.throws(() => evaluateCondition(bad), /int\(\)/, bad);
  }
});

test('os-release lines: one level of quotes removed, backslash escapes undone, defaults kept', () => {
  const info = parseOsRelease(
    [
      'ID=debian',
      'VERSION_ID="12"',
      "NAME='A \\'b\\' \\$x'",
      'BAD LINE',
      '#C=1',
      'MIXED="x\'',
      'E=a\\\\b',
    ].join('\n'),
  );
  assert.deepEqual(info, {
    NAME: "A 'b' $x",
    ID: 'debian',
    PRETTY_NAME: 'Linux',
    VERSION_ID: '12',
    MIXED: '"x\'',
    E: 'a\\b',
  });
  // Whatever the value, a quoted and escaped field reads back as written.
  const alphabet = ['a', ' ', '"', "'", '\\', '$', '`', '\u2028', '\x85', 'é', '\0', '\x1c'];
  for (let i = 0; i < 300; i++) {
    let value = '';
    const length = Math.floor(Math.random() * 12);
    for (let j = 0; j < length; j++) value += alphabet[Math.floor(Math.random() * alphabet.length)];
    const escaped = value.replace(/[\\$"'`]/g, '\\$&');
    assert.equal(parseOsRelease(`K="${escaped}"`).K, value, JSON.stringify(value));
  }
});

test("platform.freedesktop_os_release() is this machine's os-release (upstream poppler's condition)", (t) => {
  const file = ['/etc/os-release', '/usr/lib/os-release'].find((f) => existsSync(f));
  if (!file) {
    assert.throws(() => evaluateCondition('platform.freedesktop_os_release()'), /no \/etc\/os-release/);
    return;
  }
  const info = parseOsRelease(readFileSync(file, 'utf8'));
  t.diagnostic(`ID=${info.ID}`);
  assert.equal(
    evaluateCondition(`platform.freedesktop_os_release()['ID'] == ${JSON.stringify(info.ID)}`),
    true,
  );
  const poppler =
    "sys.version_info < (3, 10) or (platform.freedesktop_os_release()['ID'] == 'debian' and int(platform.freedesktop_os_release()['VERSION_ID']) < 12)";
  const old = info.ID === 'debian' && Number(info.VERSION_ID) < 12;
  assert.equal(evaluateCondition(poppler), old);
});

test("list comprehensions: upstream component/liburing's condition, unpacking, filters, scope and a bound", () => {
  const [major, minor] = release()
    .split('.')
    .map((part) => Number.parseInt(part, 10));
  const old = (major ?? 0) < 4 || ((major ?? 0) === 4 && (minor ?? 0) < 14);
  assert.equal(evaluateCondition('[int(q) for q in platform.release().split(".")[:2]]<[4,14]'), old);
  assert.equal(evaluateCondition("[a for a, b in [(1, 'x'), (2, 'y')] if b == 'y'] == [2]"), true);
  assert.equal(evaluateCondition("[a + b for a in 'ab' for b in 'xy' if a != 'b'] == ['ax', 'ay']"), true);
  assert.equal(evaluateCondition("[k for k in {'a': 1}] == ['a'] and [] == [x for x in ()]"), true);
  assert.throws(() => evaluateCondition("[x for x in 'ab'] and x"), /name 'x' is not supported/);
  assert.throws(() => evaluateCondition("[x for x, y in ['abc']]"), /cannot unpack 3 values into 2 names/);
  assert.throws(() => evaluateCondition('[x for x in 3]'), /'int' object is not iterable/);
  assert.throws(() => evaluateCondition('{x for x in (1,)}'), /comprehensions are not supported/);
  assert.throws(() => evaluateCondition('(x for x in (1,))'), /only list comprehensions/);
  assert.throws(() => evaluateCondition('[1 for None in (1,)]'), /expected a name/);
  assert.throws(
    () => evaluateCondition("[1 for a in 'x' * 1000 for b in 'y' * 1000]"),
    /iterates more than 100000 times/,
  );
});
