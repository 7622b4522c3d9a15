/**
 * Reads a small document from a URL someone else chose (hostile territory): http and https only,
 * redirects followed by hand (at most a few, http(s) only), the body capped while it streams, one
 * deadline for the whole read, and optionally only public addresses (checked on the address the
 * connection really uses, so a name that resolves to 127.0.0.1 or a redirect to it is refused too).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, fetch } from 'undici';

export type BoundedFetchFailure =
  /** The URL or a redirect is not http(s), or points to an address that is not allowed. */
  | 'refused'
  /** The server answered 404 or 410. */
  | 'absent'
  /** Another HTTP status, a network error, too many redirects. */
  | 'failed'
  | 'too-large'
  | 'timeout';

export class BoundedFetchError extends Error {
  constructor(
    readonly reason: BoundedFetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'BoundedFetchError';
  }
}

export interface BoundedFetchOptions {
  maxBytes: number;
  signal: AbortSignal;
  /** Refuse loopback, private, link-local and other non-public addresses. */
  publicAddressesOnly: boolean;
  maxRedirects?: number;
}

/** Addresses that are not on the public internet (IPv4-mapped IPv6 addresses are checked as IPv4). */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 127],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return !NON_PUBLIC.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 0) return false;
  return !NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const publicLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const allowed = addresses.filter((entry) => isPublicAddress(entry.address));
    if (allowed.length === 0) {
      const refused = new BoundedFetchError('refused', `${hostname} does not resolve to a public address`);
      return callback(refused, '', 0);
    }
    if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, allowed);
    const first = allowed[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
};

let publicAgent: Agent | undefined;
let anyAgent: Agent | undefined;

function agentFor(publicOnly: boolean): Agent {
  if (publicOnly) return (publicAgent ??= new Agent({ connect: { lookup: publicLookup } }));
  return (anyAgent ??= new Agent());
}

function checkLocation(url: URL, publicOnly: boolean): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new BoundedFetchError('refused', `only http and https URLs are read, not ${url.protocol}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (publicOnly && isIP(host) !== 0 && !isPublicAddress(host))
    throw new BoundedFetchError('refused', `${host} is not a public address`);
}

function causeOf(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof BoundedFetchError) return current;
    current = current.cause;
  }
  return current;
}

async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number, url: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new BoundedFetchError('too-large', `${url} is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** The body of `url` and the URL it was finally read from (after redirects). */
export async function boundedFetch(
  url: string,
  options: BoundedFetchOptions,
): Promise<{ body: Buffer; url: string }> {
  const { signal, publicAddressesOnly } = options;
  let current = new URL(url);
  for (let redirects = 0; ; redirects++) {
    checkLocation(current, publicAddressesOnly);
    let response;
    try {
      response = await fetch(current, {
        redirect: 'manual',
        signal,
        dispatcher: agentFor(publicAddressesOnly),
        headers: { accept: 'application/json, */*;q=0.5' },
      });
    } catch (error) {
      if (signal.aborted) throw new BoundedFetchError('timeout', `${current.href} did not answer in time`);
      const cause = causeOf(error);
      if (cause instanceof BoundedFetchError) throw cause;
      throw new BoundedFetchError(
        'failed',
        `${current.href} cannot be read: ${String((cause as Error)?.message ?? cause)}`,
      );
    }
    if (response.status >= 300 && response.status < 400 && response.headers.has('location')) {
      await response.body?.cancel();
      if (redirects >= (options.maxRedirects ?? 3))
        throw new BoundedFetchError('failed', `${url} redirects too many times`);
      current = new URL(response.headers.get('location') ?? '', current);
      continue;
    }
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      throw new BoundedFetchError('absent', `${current.href} does not exist (HTTP ${response.status})`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new BoundedFetchError('failed', `${current.href} answered HTTP ${response.status}`);
    }
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > options.maxBytes) {
      await response.body?.cancel();
      throw new BoundedFetchError('too-large', `${current.href} is larger than ${options.maxBytes} bytes`);
    }
    try {
      const body = response.body
        ? await readCapped(response.body, options.maxBytes, current.href)
        : Buffer.alloc(0);
      return { body, url: current.href };
    } catch (error) {
      if (error instanceof BoundedFetchError) throw error;
      if (signal.aborted) throw new BoundedFetchError('timeout', `${current.href} did not answer in time`);
      throw new BoundedFetchError('failed', `${current.href} cannot be read: ${(error as Error).message}`);
    }
  }
}
