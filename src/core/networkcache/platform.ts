/**
 * Which binary entries a node may install (slapos.core's `is_compatible`): the same multiarch
 * (`gcc -dumpmachine`) and an `os` triple equal after normalisation — distro id lower-cased,
 * raspbian read as debian, and for debian only the major version, codename ignored.
 */
import type { OsTriple } from './entry.ts';

export interface MachineInfo {
  readonly multiarch: string;
  readonly os: OsTriple;
}

function normaliseOs([id, version, codename]: OsTriple): OsTriple {
  let distro = id.toLowerCase();
  if (distro === 'raspbian') distro = 'debian';
  if (distro !== 'debian') return [distro, version, codename];
  const dot = version.indexOf('.');
  return [distro, dot === -1 ? version : version.slice(0, dot), ''];
}

export function osMatches(a: OsTriple, b: OsTriple): boolean {
  const [x, y] = [normaliseOs(a), normaliseOs(b)];
  return x[0] === y[0] && x[1] === y[1] && x[2] === y[2];
}

export function isCompatible(local: MachineInfo, entry: MachineInfo): boolean {
  return local.multiarch === entry.multiarch && osMatches(entry.os, local.os);
}

/**
 * `[ID, VERSION_ID, VERSION_CODENAME]` from the text of /etc/os-release (python `distro`'s first
 * source); missing fields are empty strings.
 */
export function osTripleFromOsRelease(text: string): OsTriple {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match?.[1]) continue;
    let value = match[2] ?? '';
    const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(value) ?? /^'([^']*)'$/.exec(value);
    if (quoted) value = (quoted[1] ?? '').replace(/\\(.)/g, '$1');
    fields.set(match[1], value);
  }
  return [
    (fields.get('ID') ?? '').toLowerCase(),
    fields.get('VERSION_ID') ?? '',
    fields.get('VERSION_CODENAME') ?? '',
  ];
}

/** `gcc -dumpmachine` of a Linux node, derived from Node's architecture and C library. */
export function multiarchFor(arch: string, libc: 'gnu' | 'musl' = 'gnu'): string | undefined {
  const cpu: Record<string, string> = {
    x64: 'x86_64',
    arm64: 'aarch64',
    ia32: 'i686',
    ppc64: 'powerpc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loongarch64',
  };
  if (arch === 'arm') return libc === 'gnu' ? 'arm-linux-gnueabihf' : 'arm-linux-musleabihf';
  const name = cpu[arch];
  return name === undefined ? undefined : `${name}-linux-${libc}`;
}

/** URL prefix lists (blacklists, force list): a URL matches when it starts with a listed prefix. */
export function matchingPrefix(url: string, prefixes: readonly string[]): string | undefined {
  return prefixes.find((prefix) => url.startsWith(prefix));
}

/** A newline-separated option value as the original splits it: lines stripped, blank ones dropped. */
export function prefixList(value: string | undefined): string[] {
  return (value ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}
