import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machine } from 'node:os';
import { evaluateCondition } from './conditions.ts';

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
  assert.throws(() => evaluateCondition('[x for x in y]'), /comprehensions are not supported/);
});
