/**
 * Stand-ins for the Python modules SlapOS profiles put in the template context
 * (`context = import json_module json`): the parts of `json`, `operator`, `hashlib`, `base64`,
 * `six` (with `six.moves.urllib.parse`), `os`/`os.path`, `urllib.parse`, `re`, `itertools`,
 * `functools`, `sys` and `netaddr` that templates call (module-*.ts). `pythonModule(name)` returns null for any other module, so the
 * caller can report it as unsupported by name.
 */
import { createHash } from 'node:crypto';
import { argCount, bindArgs, intArg } from './args.ts';
import { callValue, getAttr, getAttrOrFail, getItemOrFail } from './attributes.ts';
import { sixModule } from './builtins.ts';
import { jsonDumps, jsonLoads } from './json.ts';
import { functoolsModule, itertoolsModule, sysModule } from './module-itertools.ts';
import { netaddrModule } from './module-netaddr.ts';
import { osModule, osPathModule } from './module-os.ts';
import { reModule } from './module-re.ts';
import { urllibModule, urllibParseModule } from './module-urllib.ts';
import type { PyFunction } from './values.ts';
import {
  MISSING,
  PyBytes,
  PyError,
  PyModule,
  PyObject,
  PyTuple,
  PyUndefined,
  isStr,
  pyStr,
  truthy,
  typeError,
  typeName,
  type Missing,
  type PyValue,
} from './values.ts';
import { fn } from './module-helpers.ts';

function jsonModule(): PyModule {
  return new PyModule(
    'json',
    new Map<string, PyValue>([
      [
        'dumps',
        fn('dumps', (args, kwargs) => {
          const [
            obj = MISSING,
            ensureAscii = MISSING,
            indent = MISSING,
            separators = MISSING,
            sortKeys = MISSING,
          ] = bindArgs('dumps', ['obj', 'ensure_ascii', 'indent', 'separators', 'sort_keys'], args, kwargs);
          if (obj === MISSING) throw typeError("dumps() missing 1 required positional argument: 'obj'");
          let seps: [string, string] | undefined;
          if (separators !== MISSING && separators !== null) {
            const items =
              separators instanceof PyTuple ? separators.items : Array.isArray(separators) ? separators : [];
            if (items.length !== 2) throw new PyError('ValueError', 'separators must be a (item, key) pair');
            seps = [pyStr(items[0]!), pyStr(items[1]!)];
          }
          const ind =
            indent === MISSING || indent === null
              ? null
              : isStr(indent)
                ? pyStr(indent)
                : Number(intArg('dumps', indent));
          return jsonDumps(obj, {
            ensureAscii: ensureAscii === MISSING || truthy(ensureAscii),
            indent: ind,
            sortKeys: sortKeys !== MISSING && truthy(sortKeys),
            ...(seps ? { separators: seps } : {}),
          });
        }),
      ],
      [
        'loads',
        fn('loads', (args) => {
          argCount('loads', args, 1, 1);
          const s = args[0]!;
          if (s instanceof PyBytes) return jsonLoads(s.data.toString('utf8'));
          if (!isStr(s))
            throw typeError(`the JSON object must be str, bytes or bytearray, not ${typeName(s)}`);
          return jsonLoads(pyStr(s));
        }),
      ],
    ]),
  );
}

function itemgetter(items: PyValue[]): PyFunction {
  return fn('itemgetter', (args) => {
    argCount('itemgetter', args, 1, 1);
    const obj = args[0]!;
    return items.length === 1
      ? getItemOrFail(obj, items[0]!)
      : new PyTuple(items.map((k) => getItemOrFail(obj, k)));
  });
}

function attrgetter(names: PyValue[]): PyFunction {
  const get = (obj: PyValue, path: PyValue): PyValue =>
    pyStr(path)
      .split('.')
      .reduce((v, part) => getAttrOrFail(v, part), obj);
  return fn('attrgetter', (args) => {
    argCount('attrgetter', args, 1, 1);
    const obj = args[0]!;
    return names.length === 1 ? get(obj, names[0]!) : new PyTuple(names.map((n) => get(obj, n)));
  });
}

function operatorModule(): PyModule {
  return new PyModule(
    'operator',
    new Map<string, PyValue>([
      ['itemgetter', fn('itemgetter', (args) => itemgetter(args))],
      ['attrgetter', fn('attrgetter', (args) => attrgetter(args))],
      [
        'methodcaller',
        fn('methodcaller', (args, kwargs) => {
          const [name, ...rest] = args;
          if (name === undefined)
            throw typeError('methodcaller needs at least one argument, the method name');
          return fn('methodcaller', (a) => {
            const m = getAttr(a[0] ?? null, pyStr(name));
            if (m === MISSING) throw new PyError('AttributeError', `no attribute '${pyStr(name)}'`);
            return callValue(m, rest, kwargs);
          });
        }),
      ],
    ]),
  );
}

class HashObject extends PyObject {
  private readonly chunks: Buffer[] = [];
  constructor(private readonly algorithm: string) {
    super();
  }
  get typeName(): string {
    return `_hashlib.HASH`;
  }
  update(data: PyValue): void {
    if (!(data instanceof PyBytes)) {
      if (data instanceof PyUndefined) data.fail();
      throw typeError(
        isStr(data) ? 'Strings must be encoded before hashing' : `object supporting the buffer API required`,
      );
    }
    this.chunks.push(data.data);
  }
  private digestBuffer(): Buffer {
    const h = createHash(this.algorithm);
    for (const c of this.chunks) h.update(c);
    return h.digest();
  }
  override getAttr(name: string): PyValue | Missing {
    switch (name) {
      case 'hexdigest':
        return fn('hexdigest', () => this.digestBuffer().toString('hex'));
      case 'digest':
        return fn('digest', () => new PyBytes(this.digestBuffer()));
      case 'update':
        return fn('update', (args) => {
          argCount('update', args, 1, 1);
          this.update(args[0]!);
          return null;
        });
      case 'name':
        return this.algorithm;
      default:
        return MISSING;
    }
  }
}

function hashlibModule(): PyModule {
  const constructor = (name: string) =>
    fn(name, (args) => {
      argCount(name, args, 0, 1);
      const h = new HashObject(name);
      if (args.length) h.update(args[0]!);
      return h;
    });
  return new PyModule(
    'hashlib',
    new Map<string, PyValue>(
      ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'].map((n) => [n, constructor(n)]),
    ),
  );
}

function bytesArg(name: string, v: PyValue): Buffer {
  if (v instanceof PyBytes) return v.data;
  if (isStr(v) && /^[\x00-\x7f]*$/.test(pyStr(v))) return Buffer.from(pyStr(v), 'latin1');
  throw typeError(`${name}() argument must be bytes-like, not '${typeName(v)}'`);
}

function base64Module(): PyModule {
  const b64 = (name: string, encode: boolean, urlsafe: boolean) =>
    fn(name, (args) => {
      argCount(name, args, 1, 1);
      const data = bytesArg(name, args[0]!);
      if (encode) {
        const s = data.toString('base64');
        return new PyBytes(Buffer.from(urlsafe ? s.replace(/\+/g, '-').replace(/\//g, '_') : s, 'latin1'));
      }
      const text = data.toString('latin1');
      const normal = urlsafe ? text.replace(/-/g, '+').replace(/_/g, '/') : text;
      if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(normal) || normal.replace(/\s/g, '').length % 4 !== 0) {
        throw new PyError('binascii.Error', 'Incorrect padding');
      }
      return new PyBytes(Buffer.from(normal, 'base64'));
    });
  return new PyModule(
    'base64',
    new Map<string, PyValue>([
      ['b64encode', b64('b64encode', true, false)],
      ['b64decode', b64('b64decode', false, false)],
      ['urlsafe_b64encode', b64('urlsafe_b64encode', true, true)],
      ['urlsafe_b64decode', b64('urlsafe_b64decode', false, true)],
    ]),
  );
}

const FACTORIES: Record<string, () => PyModule> = {
  json: jsonModule,
  operator: operatorModule,
  hashlib: hashlibModule,
  base64: base64Module,
  six: sixModule,
  'six.moves': () => sixModule().attrs.get('moves') as PyModule,
  'six.moves.urllib': urllibModule,
  'six.moves.urllib.parse': urllibParseModule,
  os: osModule,
  'os.path': osPathModule,
  posixpath: osPathModule,
  urllib: urllibModule,
  'urllib.parse': urllibParseModule,
  re: reModule,
  itertools: itertoolsModule,
  functools: functoolsModule,
  sys: sysModule,
  netaddr: netaddrModule,
};

/** Names of the Python modules this engine can stand in for. */
export const SUPPORTED_MODULES: readonly string[] = Object.keys(FACTORIES);

/** A stand-in for Python module `name`, or null when it is not supported. */
export function pythonModule(name: string): PyModule | null {
  const factory = Object.hasOwn(FACTORIES, name) ? FACTORIES[name] : undefined;
  if (!factory) return null;
  const module = factory();
  return module.stub ? module : new PyModule(module.name, module.attrs, true);
}
