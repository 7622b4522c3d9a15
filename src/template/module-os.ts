/**
 * Stand-ins for `os` and `os.path` (POSIX, as `posixpath`): path arithmetic exactly as Python does
 * it, file checks on the real filesystem, `environ`/`getenv` from the process environment.
 */
import { statSync, lstatSync } from 'node:fs';
import { argCount } from './args.ts';
import { bindRequired, fn, strOf, stubModule } from './module-helpers.ts';
import type { PyModule } from './values.ts';
import { MISSING, PyDict, PyTuple, PyUndefined, valueError, type PyValue } from './values.ts';

function pathArg(v: PyValue): string {
  return strOf(v, (t) => `expected str, bytes or os.PathLike object, not ${t}`);
}

export function pathJoin(first: string, rest: readonly string[]): string {
  let path = first;
  for (const part of rest) {
    if (part.startsWith('/')) path = part;
    else if (path === '' || path.endsWith('/')) path += part;
    else path += '/' + part;
  }
  return path;
}

function split(p: string): [string, string] {
  const i = p.lastIndexOf('/') + 1;
  let head = p.slice(0, i);
  const tail = p.slice(i);
  if (head && head !== '/'.repeat(head.length)) head = head.replace(/\/+$/, '');
  return [head, tail];
}

function splitext(p: string): [string, string] {
  const sep = p.lastIndexOf('/');
  const dot = p.lastIndexOf('.');
  if (dot > sep) {
    for (let i = sep + 1; i < dot; i++) if (p[i] !== '.') return [p.slice(0, dot), p.slice(dot)];
  }
  return [p, ''];
}

export function normpath(p: string): string {
  if (p === '') return '.';
  const initial = p.startsWith('//') && !p.startsWith('///') ? 2 : p.startsWith('/') ? 1 : 0;
  const comps: string[] = [];
  for (const comp of p.split('/')) {
    if (comp === '' || comp === '.') continue;
    if (comp !== '..' || (!initial && comps.length === 0) || comps.at(-1) === '..') comps.push(comp);
    else if (comps.length) comps.pop();
  }
  const joined = '/'.repeat(initial) + comps.join('/');
  return joined || '.';
}

function abspath(p: string): string {
  return normpath(p.startsWith('/') ? p : pathJoin(process.cwd(), [p]));
}

function relpath(path: string, start: string): string {
  if (path === '') throw valueError('no path specified');
  const startList = abspath(start).split('/').filter(Boolean);
  const pathList = abspath(path).split('/').filter(Boolean);
  let i = 0;
  while (i < startList.length && i < pathList.length && startList[i] === pathList[i]) i++;
  const rel = [...Array<string>(startList.length - i).fill('..'), ...pathList.slice(i)];
  return rel.length ? pathJoin(rel[0]!, rel.slice(1)) : '.';
}

function fileCheck(name: string, test: (path: string) => boolean): PyValue {
  return fn(name, (args) => {
    argCount(name, args, 1, 1);
    const v = args[0]!;
    if (v instanceof PyUndefined) v.fail();
    if (typeof v !== 'string') return false;
    try {
      return test(v);
    } catch {
      return false;
    }
  });
}

function stringFn(name: string, impl: (p: string) => PyValue): PyValue {
  return fn(name, (args) => {
    argCount(name, args, 1, 1);
    return impl(pathArg(args[0]!));
  });
}

function osPath(): PyModule {
  return stubModule('os.path', [
    ['sep', '/'],
    ['pathsep', ':'],
    ['curdir', '.'],
    ['pardir', '..'],
    ['extsep', '.'],
    [
      'join',
      fn('join', (args) => {
        argCount('join', args, 1, Infinity);
        const first = pathArg(args[0]!);
        const rest = args
          .slice(1)
          .map((a) =>
            strOf(a, (t) => `join() argument must be str, bytes, or os.PathLike object, not '${t}'`),
          );
        return pathJoin(first, rest);
      }),
    ],
    ['basename', stringFn('basename', (p) => split(p)[1])],
    ['dirname', stringFn('dirname', (p) => split(p)[0])],
    ['split', stringFn('split', (p) => new PyTuple(split(p)))],
    ['splitext', stringFn('splitext', (p) => new PyTuple(splitext(p)))],
    ['normpath', stringFn('normpath', normpath)],
    ['abspath', stringFn('abspath', abspath)],
    ['isabs', stringFn('isabs', (p) => p.startsWith('/'))],
    [
      'relpath',
      fn('relpath', (args, kwargs) => {
        const [path, start] = bindRequired('relpath', ['path', 'start'], 1, args, kwargs);
        const from = start === MISSING || start === null ? '.' : pathArg(start!);
        return relpath(pathArg(path as PyValue), from);
      }),
    ],
    ['exists', fileCheck('exists', (p) => statSync(p, { throwIfNoEntry: false }) !== undefined)],
    ['lexists', fileCheck('lexists', (p) => lstatSync(p, { throwIfNoEntry: false }) !== undefined)],
    ['isfile', fileCheck('isfile', (p) => statSync(p, { throwIfNoEntry: false })?.isFile() === true)],
    ['isdir', fileCheck('isdir', (p) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true)],
    [
      'islink',
      fileCheck('islink', (p) => lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() === true),
    ],
  ]);
}

function environ(): PyDict {
  const d = new PyDict();
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) d.set(k, v);
  return d;
}

export function osModule(): PyModule {
  const path = osPath();
  const env = environ();
  return stubModule('os', [
    ['path', path],
    ['sep', '/'],
    ['pathsep', ':'],
    ['curdir', '.'],
    ['pardir', '..'],
    ['linesep', '\n'],
    ['name', 'posix'],
    ['environ', env],
    [
      'getenv',
      fn('getenv', (args, kwargs) => {
        const [key, dflt] = bindRequired('getenv', ['key', 'default'], 1, args, kwargs);
        const v = env.get(pathArgKey(key as PyValue));
        return v === undefined ? (dflt === MISSING ? null : dflt!) : v;
      }),
    ],
    ['getcwd', fn('getcwd', (args) => (argCount('getcwd', args, 0, 0), process.cwd()))],
  ]);
}

function pathArgKey(v: PyValue): string {
  return strOf(v, (t) => `str expected, not ${t}`);
}

/** `os.path` itself (`import x os.path`). */
export function osPathModule(): PyModule {
  return osModule().attrs.get('path') as PyModule;
}
