/** IPv4/IPv6 addresses and networks as big integers: parsing, printing (RFC 5952), arithmetic. */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface Cidr {
  readonly family: IpFamily;
  /** The network address (host bits cleared). */
  readonly network: bigint;
  readonly prefixLength: number;
}

export function bitsOf(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export function parseAddress(text: string): { family: IpFamily; value: bigint } {
  if (isIPv4(text)) {
    const value = text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { family: 4, value };
  }
  if (isIPv6(text)) return { family: 6, value: parseIpv6(text) };
  throw new Error(`${JSON.stringify(text)} is not an IP address`);
}

function parseIpv6(text: string): bigint {
  let body = text.split('%')[0] ?? '';
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4?.[1]) {
    const value = parseAddress(v4[1]).value;
    body = `${body.slice(0, -v4[1].length)}${(value >> 16n).toString(16)}:${(value & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = body.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  return parts.reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n);
}

export function formatAddress(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const hextets = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run (≥ 2) of zero hextets becomes `::`, the first one on a tie.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (hextets[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && hextets[j] === 0) j += 1;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = hextets.map((h) => h.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function maskOf(family: IpFamily, prefixLength: number): bigint {
  const bits = BigInt(bitsOf(family));
  const all = (1n << bits) - 1n;
  return (all << (bits - BigInt(prefixLength))) & all;
}

/** The netmask as an address (`255.255.255.255`, `ffff:ffff:ffff:ffff::`), as the original stores it. */
export function netmaskText(family: IpFamily, prefixLength: number): string {
  return formatAddress(family, maskOf(family, prefixLength));
}

/** `10.0.0.0/16`, `2001:db8::/64`; an address without `/` is a single-host network. */
export function parseCidr(text: string): Cidr {
  const [addressText = '', lengthText, extra] = text.trim().split('/');
  if (extra !== undefined) throw new Error(`${JSON.stringify(text)} is not a network (address/length)`);
  const { family, value } = parseAddress(addressText);
  const bits = bitsOf(family);
  const prefixLength = lengthText === undefined ? bits : Number(lengthText);
  if (!/^\d+$/.test(lengthText ?? String(bits)) || prefixLength > bits)
    throw new Error(`${JSON.stringify(text)} has an invalid prefix length`);
  return { family, network: value & maskOf(family, prefixLength), prefixLength };
}

export function cidrText(cidr: Cidr): string {
  return `${formatAddress(cidr.family, cidr.network)}/${cidr.prefixLength}`;
}

export function contains(cidr: Cidr, family: IpFamily, value: bigint): boolean {
  return family === cidr.family && (value & maskOf(family, cidr.prefixLength)) === cidr.network;
}

/** Number of addresses in the network. */
export function sizeOf(cidr: Cidr): bigint {
  return 1n << BigInt(bitsOf(cidr.family) - cidr.prefixLength);
}

/** Canonical text of an address (to compare addresses written differently). */
export function canonicalAddress(text: string): string {
  const { family, value } = parseAddress(text);
  return formatAddress(family, value);
}
