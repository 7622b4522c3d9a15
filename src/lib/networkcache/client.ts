/**
 * A shacache + shadir client speaking slapos.libnetworkcache's protocol (see
 * notes/networkcache-wire.md in the repository history, summarised here): `GET dir/<key>` lists
 * `[entry_json, signature]` pairs; `GET cache/<sha512>` serves a blob; `POST cache` stores one and
 * answers 201 with its sha512; `PUT dir/<key>` adds a signed entry (201). Credentials in a URL
 * become Basic authentication; our bearer token goes on uploads only. Neither appears in a message.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { SlapError } from '../../core/errors.ts';
import {
  directoryPutBody,
  isSha512Hex,
  parseDirectoryListing,
  type DirectoryPair,
} from '../../core/networkcache/entry.ts';
import { signEntry, verifyEntry, type TrustedSigner } from '../../core/networkcache/signature.ts';
import type { CacheEndpoints, NetworkcacheOptions, TlsFiles } from './options.ts';

const MAX_LISTING_BYTES = 16 * 1024 * 1024;
const TIMEOUT_MS = 60_000;

/** A shadir pair with the signer whose certificate verifies it (undefined: not trusted). */
export interface CheckedPair extends DirectoryPair {
  readonly signer: TrustedSigner | undefined;
}

export type ClientSettings = Pick<
  NetworkcacheOptions,
  'signers' | 'signatureKey' | 'shacacheTls' | 'shadirTls' | 'uploadToken'
> & {
  /** Tests: one dispatcher for everything instead of the TLS agents. */
  dispatcher?: Dispatcher;
};

/** A URL fit for a message: without credentials, query or fragment. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function cacheError(message: string, cause?: unknown): SlapError {
  return new SlapError('SLAP_ERR_CACHE_REFUSED', message, cause === undefined ? {} : { cause });
}

class Sha512Meter extends Transform {
  readonly hash = createHash('sha512');
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** sha512 hex of a file, read once. */
export async function fileSha512(path: string): Promise<string> {
  const hash = createHash('sha512');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A shadir key in a request path (keys are md5 hex, or `file-urlmd5:` + md5 hex). */
function keyPath(key: string): string {
  return encodeURIComponent(key).replace(/%3A/gi, ':');
}

export class NetworkcacheClient {
  private readonly agents = new Map<string, Dispatcher>();

  constructor(
    private readonly endpoints: CacheEndpoints,
    private readonly settings: ClientSettings,
  ) {}

  private dispatcher(tls: TlsFiles, url: URL): Dispatcher | undefined {
    if (this.settings.dispatcher) return this.settings.dispatcher;
    if (url.protocol !== 'https:' || (!tls.caFile && !tls.certFile && !tls.keyFile)) return undefined;
    const id = `${tls.caFile}\0${tls.certFile}\0${tls.keyFile}`;
    let agent = this.agents.get(id);
    if (!agent) {
      agent = new Agent({
        connect: {
          ...(tls.caFile ? { ca: readFileSync(tls.caFile) } : {}),
          ...(tls.certFile ? { cert: readFileSync(tls.certFile) } : {}),
          ...(tls.keyFile ? { key: readFileSync(tls.keyFile) } : {}),
        },
      });
      this.agents.set(id, agent);
    }
    return agent;
  }

  /** Closes the TLS agents this client opened. */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((agent) => agent.close()));
    this.agents.clear();
  }

  private async send(
    side: 'cache' | 'dir',
    name: string | undefined,
    init: {
      method: 'GET' | 'POST' | 'PUT';
      body?: Dispatcher.DispatchOptions['body'];
      headers?: Record<string, string>;
    },
    signal: AbortSignal | undefined,
  ): Promise<Dispatcher.ResponseData> {
    const base = this.endpoints[side === 'cache' ? 'cacheUrl' : 'dirUrl'];
    const url = new URL(base.replace(/\/+$/, '') + (name === undefined ? '' : `/${name}`));
    const headers: Record<string, string> = { ...init.headers };
    if (url.username !== '')
      headers.authorization = `Basic ${Buffer.from(`${url.username}:${url.password}`).toString('base64')}`;
    else if (init.method !== 'GET' && this.settings.uploadToken !== undefined)
      headers.authorization = `Bearer ${this.settings.uploadToken}`;
    url.username = '';
    url.password = '';
    const dispatcher = this.dispatcher(
      side === 'cache' ? this.settings.shacacheTls : this.settings.shadirTls,
      url,
    );
    try {
      return await request(url, {
        method: init.method,
        headers,
        ...(init.body === undefined ? {} : { body: init.body }),
        ...(dispatcher ? { dispatcher } : {}),
        ...(signal ? { signal } : {}),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new SlapError(
        'SLAP_ERR_DOWNLOAD_FAILED',
        `Cannot reach ${displayUrl(url.href)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  private async text(response: Dispatcher.ResponseData, maxBytes: number, what: string): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        response.body.destroy();
        throw cacheError(`${what} is over ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * The pairs under `key`, each with the signer that verifies it; an empty list when the key is
   * unknown (404). A listing that is not JSON or not a list is refused.
   */
  async entries(key: string, signal?: AbortSignal): Promise<{ pairs: CheckedPair[]; skipped: string[] }> {
    const response = await this.send('dir', keyPath(key), { method: 'GET' }, signal);
    const where = `shadir ${displayUrl(this.endpoints.dirUrl)} key ${key}`;
    if (response.statusCode === 404) {
      await response.body.dump();
      return { pairs: [], skipped: [] };
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      await response.body.dump();
      throw new SlapError('SLAP_ERR_DOWNLOAD_FAILED', `${where}: HTTP ${response.statusCode}`);
    }
    const listing = parseDirectoryListing(await this.text(response, MAX_LISTING_BYTES, where));
    if (!listing.ok) throw cacheError(`${where}: ${listing.reason}`);
    return {
      pairs: listing.value.pairs.map((pair) => ({
        ...pair,
        signer: verifyEntry(pair.entryJson, pair.signature, this.settings.signers),
      })),
      skipped: listing.value.skipped,
    };
  }

  /**
   * Streams blob `sha512` into `destination`, hashing as it goes; a body shorter than its
   * Content-Length or whose sha512 differs is refused (the file is left for the caller to remove).
   */
  async downloadBlob(sha512: string, destination: string, signal?: AbortSignal): Promise<{ bytes: number }> {
    if (!isSha512Hex(sha512)) throw cacheError('not a sha512');
    const response = await this.send('cache', sha512, { method: 'GET' }, signal);
    const where = `shacache ${displayUrl(this.endpoints.cacheUrl)} blob ${sha512.slice(0, 16)}…`;
    if (response.statusCode < 200 || response.statusCode >= 300) {
      await response.body.dump();
      throw new SlapError('SLAP_ERR_DOWNLOAD_FAILED', `${where}: HTTP ${response.statusCode}`);
    }
    const lengthHeader = response.headers['content-length'];
    const expected =
      typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const meter = new Sha512Meter();
    try {
      await pipeline(response.body, meter, createWriteStream(destination, { mode: 0o600 }));
    } catch (error) {
      if (signal?.aborted) throw error;
      throw cacheError(
        `${where}: truncated download after ${meter.bytes} bytes (${(error as Error).message})`,
        error,
      );
    }
    if (expected !== undefined && meter.bytes !== expected)
      throw cacheError(`${where}: truncated download (${meter.bytes} of ${expected} bytes)`);
    const actual = meter.hash.digest('hex');
    if (actual !== sha512) throw cacheError(`${where}: sha512 mismatch (received ${actual.slice(0, 16)}…)`);
    return { bytes: meter.bytes };
  }

  /** Stores `file` in shacache unless it is already there; returns its sha512. */
  async uploadBlob(file: string, signal?: AbortSignal): Promise<string> {
    const sha512 = await fileSha512(file);
    const present = await this.send('cache', sha512, { method: 'GET' }, signal);
    await present.body.dump();
    if (present.statusCode >= 200 && present.statusCode < 300) return sha512;
    const { size } = await stat(file);
    const response = await this.send(
      'cache',
      undefined,
      {
        method: 'POST',
        body: createReadStream(file),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      },
      signal,
    );
    const answer = await this.text(response, 4096, 'the shacache answer');
    if (response.statusCode !== 201 || answer !== sha512)
      throw new SlapError(
        'SLAP_ERR_DOWNLOAD_FAILED',
        `Upload to shacache ${displayUrl(this.endpoints.cacheUrl)} failed: HTTP ${response.statusCode}`,
      );
    return sha512;
  }

  /** Signs `entryJson` with the configured key (empty signature without one) and adds it under `key`. */
  async putEntry(key: string, entryJson: string, signal?: AbortSignal): Promise<void> {
    const signature = this.settings.signatureKey ? signEntry(entryJson, this.settings.signatureKey) : '';
    const response = await this.send(
      'dir',
      keyPath(key),
      {
        method: 'PUT',
        body: directoryPutBody(entryJson, signature),
        headers: { 'content-type': 'application/json' },
      },
      signal,
    );
    await response.body.dump();
    if (response.statusCode !== 201)
      throw new SlapError(
        'SLAP_ERR_DOWNLOAD_FAILED',
        `Upload to shadir ${displayUrl(this.endpoints.dirUrl)} failed: HTTP ${response.statusCode}`,
      );
  }
}
