/**
 * Stand-in for `netaddr`: `IPAddress` and `IPNetwork` with the attributes SlapOS profiles read
 * (`version`, `ip`, `network`, `broadcast`, `netmask`, `hostmask`, `prefixlen`, `cidr`, `size`,
 * `first`, `last`, iteration, indexing, `in`, `str()`, `int()`), `valid_ipv4`/`valid_ipv6`.
 * Addresses are parsed strictly (dotted quads, RFC 4291 text); IPv6 is printed as netaddr does
 * (the longest run of two or more zero groups compressed, IPv4-mapped addresses in dotted form).
 */
import { argCount, intArg } from './args.ts';
import { bindRequired, fn, req, stubModule } from './module-helpers.ts';
import type { PyModule } from './values.ts';
import {
  MISSING,
  PyError,
  PyIterator,
  PyMarkup,
  PyObject,
  PyUndefined,
  pyRepr,
  typeError,
  typeName,
  type Missing,
  type PyValue,
} from './values.ts';

type Version = 4 | 6;
const BITS: Record<Version, number> = { 4: 32, 6: 128 };

function addrFormatError(message: string): PyError {
  return new PyError('AddrFormatError', message);
}

function parseV4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

function parseV6(s: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split('::').length > 2) return null;
  let text = s;
  const tail: number[] = [];
  const v4 = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = parseV4(v4[1]!);
    if (n === null) return null;
    tail.push(Number(n >> 16n), Number(n & 0xffffn));
    text = text.slice(0, text.length - v4[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const group = (g: string): number | null => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : null);
  const side = (t: string): number[] | null => {
    if (t === '') return [];
    const gs = t.split(':').map(group);
    return gs.every((g) => g !== null) ? gs : null;
  };
  let groups: number[];
  if (text.includes('::')) {
    const [l, r] = text.split('::') as [string, string];
    const left = side(l);
    const right = side(r);
    if (!left || !right) return null;
    const missing = 8 - left.length - right.length - tail.length;
    if (missing < 1) return null;
    groups = [...left, ...Array<number>(missing).fill(0), ...right, ...tail];
  } else {
    const all = side(text);
    if (!all) return null;
    groups = [...all, ...tail];
  }
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
}

function formatV6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatV4(value & 0xffffffffn)}`;
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => Number((value >> s) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function format(value: bigint, version: Version): string {
  return version === 4 ? formatV4(value) : formatV6(value);
}

function text(v: PyValue): string | null {
  if (typeof v === 'string') return v;
  if (v instanceof PyMarkup) return v.value;
  if (v instanceof PyUndefined) v.fail();
  return null;
}

function parseAddress(s: string, version: Version | null): [bigint, Version] | null {
  if (version !== 6) {
    const v = parseV4(s);
    if (v !== null) return [v, 4];
  }
  if (version !== 4) {
    const v = parseV6(s);
    if (v !== null) return [v, 6];
  }
  return null;
}

function versionArg(v: PyValue | Missing): Version | null {
  if (v === MISSING || v === null) return null;
  const n = intArg('IPAddress', v);
  if (n !== 4n && n !== 6n) throw new PyError('ValueError', `${n} is an invalid IP version!`);
  return Number(n) as Version;
}

export class IPAddress extends PyObject {
  constructor(
    readonly value: bigint,
    readonly version: Version,
  ) {
    super();
  }
  get typeName(): string {
    return 'IPAddress';
  }
  override str(): string {
    return format(this.value, this.version);
  }
  override repr(): string {
    return `IPAddress('${this.str()}')`;
  }
  pyInt(): bigint {
    return this.value;
  }
  pyEq(other: PyValue): boolean {
    return other instanceof IPAddress && other.value === this.value && other.version === this.version;
  }
  override getAttr(name: string): PyValue | Missing {
    const is = (test: () => boolean) => fn(name, (args) => (argCount(name, args, 0, 0), test()));
    const v = this.value;
    switch (name) {
      case 'version':
        return BigInt(this.version);
      case 'value':
        return v;
      case 'format':
        return fn('format', () => this.str());
      case 'bits':
        return fn('bits', () =>
          this.version === 4
            ? v.toString(2).padStart(32, '0').match(/.{8}/g)!.join('.')
            : v.toString(2).padStart(128, '0').match(/.{16}/g)!.join(':'),
        );
      case 'ipv4':
        return fn('ipv4', () => {
          if (this.version === 4) return this;
          if (v <= 0xffffffffn) return new IPAddress(v, 4);
          if (v >> 32n === 0xffffn) return new IPAddress(v & 0xffffffffn, 4);
          throw addrFormatError(`IPv6 address ${this.str()} unsuitable for conversion to IPv4!`);
        });
      case 'ipv6':
        return fn('ipv6', (args, kwargs) => {
          const [compat] = bindRequired('ipv6', ['ipv4_compatible'], 0, args, kwargs);
          if (this.version === 6) return this;
          return new IPAddress(compat !== MISSING && compat === true ? v : 0xffff00000000n | v, 6);
        });
      case 'is_loopback':
        return is(() => (this.version === 4 ? v >> 24n === 127n : v === 1n));
      case 'is_link_local':
        return is(() => (this.version === 4 ? v >> 16n === 0xa9fen : v >> 118n === 0x3fan));
      case 'is_multicast':
        return is(() => (this.version === 4 ? v >> 28n === 0xen : v >> 120n === 0xffn));
      case 'is_private':
        return is(() =>
          this.version === 4
            ? v >> 24n === 10n || v >> 20n === 0xac1n || v >> 16n === 0xc0a8n || v >> 16n === 0xa9fen
            : v >> 121n === 0x7en || v >> 118n === 0x3fan,
        );
      case 'is_unicast':
        return is(() => !(this.version === 4 ? v >> 28n === 0xen : v >> 120n === 0xffn));
      case 'reverse_dns':
        return this.version === 4
          ? `${this.str().split('.').reverse().join('.')}.in-addr.arpa.`
          : `${[...v.toString(16).padStart(32, '0')].reverse().join('.')}.ip6.arpa.`;
      default:
        return MISSING;
    }
  }
}

function makeAddress(args: PyValue[], kwargs: Map<string, PyValue> | null): IPAddress {
  const [addr, version] = bindRequired('IPAddress', ['addr', 'version', 'flags'], 1, args, kwargs);
  const ver = versionArg(version ?? MISSING);
  const a = req(addr);
  if (a instanceof IPAddress) return ver === null || ver === a.version ? a : new IPAddress(a.value, ver);
  if (typeof a === 'bigint') {
    const v = ver ?? (a <= 0xffffffffn ? 4 : 6);
    if (a < 0n || a >= 1n << BigInt(BITS[v])) {
      throw addrFormatError(`bad address format: ${a}`);
    }
    return new IPAddress(a, v);
  }
  const s = text(a);
  if (s === null) throw addrFormatError(`failed to detect a valid IP address from ${pyRepr(a)}`);
  if (s.includes('/'))
    throw new PyError(
      'ValueError',
      'IPAddress() does not support netmasks or subnet prefixes! See documentation for details.',
    );
  const parsed = parseAddress(s, ver);
  if (!parsed) throw addrFormatError(`failed to detect a valid IP address from ${pyRepr(s)}`);
  return new IPAddress(parsed[0], parsed[1]);
}

export class IPNetwork extends PyObject {
  constructor(
    readonly value: bigint,
    readonly version: Version,
    readonly prefixlen: number,
  ) {
    super();
  }
  get typeName(): string {
    return 'IPNetwork';
  }
  get bits(): number {
    return BITS[this.version];
  }
  get hostmask(): bigint {
    return (1n << BigInt(this.bits - this.prefixlen)) - 1n;
  }
  get first(): bigint {
    return this.value & ~this.hostmask;
  }
  get last(): bigint {
    return this.first | this.hostmask;
  }
  get size(): bigint {
    return this.hostmask + 1n;
  }
  override str(): string {
    return `${format(this.value, this.version)}/${this.prefixlen}`;
  }
  override repr(): string {
    return `IPNetwork('${this.str()}')`;
  }
  pyEq(other: PyValue): boolean {
    return (
      other instanceof IPNetwork &&
      other.version === this.version &&
      other.first === this.first &&
      other.prefixlen === this.prefixlen
    );
  }
  pyIter(): Iterator<PyValue> {
    const { first, last, version } = this;
    return (function* () {
      for (let v = first; v <= last; v++) yield new IPAddress(v, version);
    })();
  }
  pyLen(): number {
    return Number(this.size);
  }
  pyContains(item: PyValue): boolean {
    if (item instanceof IPAddress)
      return item.version === this.version && item.value >= this.first && item.value <= this.last;
    if (item instanceof IPNetwork)
      return item.version === this.version && item.first >= this.first && item.last <= this.last;
    const s = text(item);
    if (s !== null) return this.pyContains(s.includes('/') ? makeNetwork([s], null) : makeAddress([s], null));
    throw typeError(`${pyRepr(item)} is an unsupported type for IPNetwork membership`);
  }
  pyGetItem(key: PyValue): PyValue | Missing {
    const i = intArg('__getitem__', key);
    const index = i < 0n ? this.size + i : i;
    if (index < 0n || index >= this.size)
      throw new PyError('IndexError', 'index out range for address range size!');
    return new IPAddress(this.first + index, this.version);
  }
  override getAttr(name: string): PyValue | Missing {
    const addr = (v: bigint) => new IPAddress(v, this.version);
    switch (name) {
      case 'ip':
        return addr(this.value);
      case 'network':
        return addr(this.first);
      case 'broadcast':
        return this.bits - this.prefixlen > 1 ? addr(this.last) : null;
      case 'netmask':
        return addr(((1n << BigInt(this.bits)) - 1n) ^ this.hostmask);
      case 'hostmask':
        return addr(this.hostmask);
      case 'prefixlen':
        return BigInt(this.prefixlen);
      case 'cidr':
        return new IPNetwork(this.first, this.version, this.prefixlen);
      case 'size':
        return this.size;
      case 'first':
        return this.first;
      case 'last':
        return this.last;
      case 'version':
        return BigInt(this.version);
      case 'value':
        return this.value;
      case 'iter_hosts':
        return fn('iter_hosts', () => {
          const { first, last, version } = this;
          const skipEnds = version === 4 && this.bits - this.prefixlen > 1;
          const start = skipEnds
            ? first + 1n
            : version === 6 && this.bits - this.prefixlen > 0
              ? first + 1n
              : first;
          const end = skipEnds ? last - 1n : last;
          return new PyIterator(
            (function* () {
              for (let v = start; v <= end; v++) yield new IPAddress(v, version);
            })(),
            'generator',
          );
        });
      case 'subnet':
        return fn('subnet', (args, kwargs) => {
          const [prefix, count] = bindRequired('subnet', ['prefixlen', 'count', 'fmt'], 1, args, kwargs);
          const p = Number(intArg('subnet', req(prefix)));
          const max = count === MISSING || count === null ? Infinity : Number(intArg('subnet', count!));
          const { first, last, version, bits, prefixlen } = this;
          return new PyIterator(
            (function* () {
              if (p < prefixlen || p > bits) return;
              const step = 1n << BigInt(bits - p);
              let n = 0;
              for (let v = first; v <= last && n < max; v += step, n++) yield new IPNetwork(v, version, p);
            })(),
            'generator',
          );
        });
      default:
        return MISSING;
    }
  }
}

function prefixFromMask(mask: bigint, bits: number): number | null {
  const inverted = ((1n << BigInt(bits)) - 1n) ^ mask;
  if ((inverted & (inverted + 1n)) !== 0n) return null;
  return bits - inverted.toString(2).replace(/^0+/, '').length;
}

function makeNetwork(args: PyValue[], kwargs: Map<string, PyValue> | null): IPNetwork {
  const [addr, version] = bindRequired(
    'IPNetwork',
    ['addr', 'implicit_prefix', 'version', 'flags'],
    1,
    args,
    kwargs,
  );
  const a = req(addr);
  if (a instanceof IPNetwork) return a;
  if (a instanceof IPAddress) return new IPNetwork(a.value, a.version, BITS[a.version]);
  const s = text(a);
  if (s === null) {
    throw typeError(`unexpected type <class '${typeName(a)}'> for addr arg`);
  }
  const [host, prefix, ...extra] = s.split('/');
  const parsed = extra.length ? null : parseAddress(host!, versionArg(version ?? MISSING));
  if (!parsed) throw addrFormatError(`invalid IPNetwork ${s}`);
  const bits = BITS[parsed[1]];
  let len: number | null = bits;
  if (prefix !== undefined) {
    if (/^\d+$/.test(prefix)) len = Number(prefix) <= bits ? Number(prefix) : null;
    else {
      const mask = parseAddress(prefix, parsed[1]);
      len = mask ? prefixFromMask(mask[0], bits) : null;
    }
  }
  if (len === null) throw addrFormatError(`invalid IPNetwork ${s}`);
  return new IPNetwork(parsed[0], parsed[1], len);
}

export function netaddrModule(): PyModule {
  const valid = (name: string, version: Version) =>
    fn(name, (args) => {
      argCount(name, args, 1, 2);
      const s = text(args[0]!);
      if (s === null) throw addrFormatError(`Unexpected type ${pyRepr(args[0]!)}`);
      return parseAddress(s, version)?.[1] === version;
    });
  return stubModule('netaddr', [
    ['IPAddress', fn('IPAddress', makeAddress)],
    ['IPNetwork', fn('IPNetwork', makeNetwork)],
    ['valid_ipv4', valid('valid_ipv4', 4)],
    ['valid_ipv6', valid('valid_ipv6', 6)],
  ]);
}
