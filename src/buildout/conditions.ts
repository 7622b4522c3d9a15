/**
 * Conditional section headers `[name:EXPR]` (profiles.md §1.2). EXPR is first read as a PEP 508
 * environment marker (`python_version >= "3.9"`, `platform_machine == "x86_64"`); otherwise it is a
 * Python expression over buildout's predefined names (`python3`, `linux`, `bits64`, `sys`,
 * `platform`, `os`). The engine emulates CPython 3.11 on the running machine.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { arch, endianness, machine, platform as osPlatform, release } from 'node:os';
import { pythonBuiltins } from '../template/builtins.ts';
import {
  PyDict,
  PyFunction,
  PyModule,
  PyNamedTuple,
  pyStr,
  truthy,
  type PyValue,
} from '../template/values.ts';
import { PyExprError, evaluate, parseExpression, type Globals, type PyExpression } from './py-expr.ts';

/** The Python version whose predefined names (`python3`, `python311`, `sys.version_info`) are true. */
export const EMULATED_PYTHON = { major: 3, minor: 11, micro: 2 } as const;

let cachedGlobals: Globals | undefined;

function constant(name: string, value: PyValue): PyFunction {
  return new PyFunction(name, () => value);
}

// `[^]` rather than `.`: Python's `.` matches U+2028/U+2029 and U+0085, JavaScript's does not.
const OS_RELEASE_LINE = /^([a-zA-Z0-9_]+)=(["']?)([^]*)\2$/;

/**
 * The fields of an os-release file as Python's `platform.freedesktop_os_release()` reads them:
 * `KEY=value` lines, one level of matching quotes removed, `\\`, `\$`, `\"`, `\'` and `` \` ``
 * unescaped; NAME, ID and PRETTY_NAME default to Linux/linux/Linux.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const info: Record<string, string> = { NAME: 'Linux', ID: 'linux', PRETTY_NAME: 'Linux' };
  // Lines as Python's text files split them (universal newlines).
  for (const line of text.split(/\r\n|\r|\n/)) {
    const match = OS_RELEASE_LINE.exec(line);
    if (match) info[match[1] as string] = (match[3] as string).replace(/\\([\\$"'`])/g, '$1');
  }
  return info;
}

const OS_RELEASE_FILES = ['/etc/os-release', '/usr/lib/os-release'];

const freedesktopOsRelease = new PyFunction('platform.freedesktop_os_release', () => {
  for (const file of OS_RELEASE_FILES) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    return PyDict.from(Object.entries(parseOsRelease(text)));
  }
  throw new PyExprError(`platform.freedesktop_os_release(): no ${OS_RELEASE_FILES.join(' nor ')}`);
});

/** A module of fixed attributes, as expressions see `sys`, `platform`, `os`. */
function module(name: string, attrs: Record<string, PyValue>): PyModule {
  return new PyModule(name, new Map(Object.entries(attrs)));
}

function pathCheck(name: string, check: (path: string) => boolean): PyFunction {
  return new PyFunction(`os.path.${name}`, (args) => {
    const path = args[0];
    if (typeof path !== 'string') throw new PyExprError(`os.path.${name}() needs a path string`);
    return check(path);
  });
}

/** The global names of condition expressions (computed once: they describe this machine). */
export function conditionGlobals(): Globals {
  if (cachedGlobals) return cachedGlobals;
  const { major, minor, micro } = EMULATED_PYTHON;
  const plat = osPlatform();
  const pyVersion = `${major}.${minor}.${micro}`;
  const sysPlatform = plat === 'win32' ? 'win32' : plat === 'sunos' ? 'sunos5' : plat;
  const system =
    { linux: 'Linux', darwin: 'Darwin', win32: 'Windows', freebsd: 'FreeBSD', sunos: 'SunOS' }[
      plat as string
    ] ?? plat;
  const bits = ['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el'].includes(arch())
    ? 64
    : 32;
  const globals: Record<string, PyValue> = {
    python2: false,
    python3: major === 3,
    cpython: true,
    pypy: false,
    jython: false,
    ironpython: false,
    linux: plat === 'linux',
    windows: plat === 'win32',
    cygwin: plat === 'cygwin',
    solaris: plat === 'sunos',
    macosx: plat === 'darwin',
    posix: plat !== 'win32',
    bits32: bits === 32,
    bits64: bits === 64,
    int: pythonBuiltins().get('int') ?? null,
    little_endian: endianness() === 'LE',
    big_endian: endianness() === 'BE',
    sys: module('sys', {
      version_info: new PyNamedTuple(
        'sys.version_info',
        ['major', 'minor', 'micro', 'releaselevel', 'serial'],
        [BigInt(major), BigInt(minor), BigInt(micro), 'final', 0n],
      ),
      version: pyVersion,
      platform: sysPlatform,
      byteorder: endianness() === 'LE' ? 'little' : 'big',
      maxsize: bits === 64 ? 2n ** 63n - 1n : 2n ** 31n - 1n,
    }),
    platform: module('platform', {
      machine: constant('platform.machine', machine()),
      system: constant('platform.system', system),
      release: constant('platform.release', release()),
      python_version: constant('platform.python_version', pyVersion),
      python_implementation: constant('platform.python_implementation', 'CPython'),
      freedesktop_os_release: freedesktopOsRelease,
    }),
    os: module('os', {
      name: plat === 'win32' ? 'nt' : 'posix',
      sep: '/',
      path: module('os.path', {
        exists: pathCheck('exists', (p) => existsSync(p)),
        isdir: pathCheck('isdir', (p) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false),
        isfile: pathCheck('isfile', (p) => statSync(p, { throwIfNoEntry: false })?.isFile() ?? false),
      }),
    }),
  };
  for (const v of ['24', '25', '26', '27']) globals[`python${v}`] = false;
  for (let m = 0; m <= 15; m++) globals[`python3${m}`] = major === 3 && minor === m;
  const markers: Record<string, string> = {
    python_version: `${major}.${minor}`,
    python_full_version: pyVersion,
    os_name: plat === 'win32' ? 'nt' : 'posix',
    sys_platform: sysPlatform,
    platform_release: release(),
    platform_system: system,
    platform_version: release(),
    platform_machine: machine(),
    platform_python_implementation: 'CPython',
    implementation_name: 'cpython',
    implementation_version: pyVersion,
  };
  cachedGlobals = Object.freeze({ ...globals, ...markers });
  return cachedGlobals;
}

const MARKER_VARIABLES = new Set([
  'python_version',
  'python_full_version',
  'os_name',
  'sys_platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform_machine',
  'platform_python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
]);

type MarkerNode = PyExpression['node'];

/** True if the tree is a PEP 508 marker: and/or of single comparisons between marker variables and strings. */
function isMarker(node: MarkerNode): boolean {
  if (node.k === 'bool') return node.items.every(isMarker);
  if (node.k !== 'compare' || node.rest.length !== 1) return false;
  const operand = (n: MarkerNode): boolean =>
    (n.k === 'name' && MARKER_VARIABLES.has(n.id)) || (n.k === 'const' && typeof n.v === 'string');
  const [, right] = node.rest[0] ?? ['', node.first];
  return operand(node.first) && operand(right);
}

const VERSION_RE = /^\d+(\.\d+)*$/;

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function evaluateMarker(node: MarkerNode, env: Globals): boolean {
  if (node.k === 'bool') {
    return node.op === 'and'
      ? node.items.every((n) => evaluateMarker(n, env))
      : node.items.some((n) => evaluateMarker(n, env));
  }
  if (node.k !== 'compare') return false;
  const value = (n: MarkerNode): string => {
    if (n.k === 'const') return pyStr(n.v);
    if (n.k === 'name') {
      const found = n.id === 'extra' ? '' : env[n.id];
      return typeof found === 'string' ? found : '';
    }
    return '';
  };
  const [op, rightNode] = node.rest[0] ?? ['==', node.first];
  const left = value(node.first);
  const right = value(rightNode);
  if (op === 'in') return right.includes(left);
  if (op === 'not in') return !right.includes(left);
  const c =
    VERSION_RE.test(left) && VERSION_RE.test(right)
      ? compareVersions(left, right)
      : left < right
        ? -1
        : left > right
          ? 1
          : 0;
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    default:
      throw new PyExprError(`operator '${op}' is not allowed in an environment marker`);
  }
}

/**
 * Evaluates a section condition. `\x23` and `\x3b` in the text stand for `#` and `;` (which cannot
 * appear literally in a header). Throws PyExprError on syntax errors or unsupported constructs.
 */
export function evaluateCondition(text: string, globals: Globals = conditionGlobals()): boolean {
  const source = text.replaceAll('\\x23', '#').replaceAll('\\x3b', ';');
  const expression = parseExpression(source);
  if (isMarker(expression.node)) return evaluateMarker(expression.node, globals);
  return truthy(evaluate(expression, globals));
}
