/**
 * Test helpers for the networkcache client: an RSA signer with its self-signed certificate (as
 * SlapOS signers are), a tar writer that can produce what GNU tar would not (members escaping by
 * hard link, device files), and a shacache/shadir server on 127.0.0.1 whose answers a test can
 * make hostile.
 */
import { createHash, createPrivateKey, webcrypto } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { x509 } from '../lib/x509.ts';
import { startHttpServer, type TestHttpServer } from './http-server.ts';

const RSA_SHA256 = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
} as const;

export interface TestSigner {
  keyPem: string;
  certificatePem: string;
}

export async function rsaSigner(commonName = 'shadir signer'): Promise<TestSigner> {
  const keys = await webcrypto.subtle.generateKey(RSA_SHA256, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${commonName}`,
    notBefore: new Date(Date.UTC(2026, 0, 1)),
    notAfter: new Date(Date.UTC(2030, 0, 1)),
    signingAlgorithm: RSA_SHA256,
    keys,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  return { keyPem, certificatePem: certificate.toString('pem') };
}

export interface TarEntrySpec {
  name: string;
  /** '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' directory, '6' fifo. */
  type?: '0' | '1' | '2' | '3' | '4' | '5' | '6';
  content?: string | Buffer;
  linkName?: string;
  mode?: number;
  /** Write the name in a pax header (long or non-ASCII names). */
  pax?: boolean;
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

function header(name: string, type: string, size: number, linkName: string, mode: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(name.slice(0, 100), 0, 'utf8');
  block.write(octal(mode, 8), 100, 'latin1');
  block.write(octal(0, 8), 108, 'latin1');
  block.write(octal(0, 8), 116, 'latin1');
  block.write(octal(size, 12), 124, 'latin1');
  block.write(octal(0, 12), 136, 'latin1');
  block.write('        ', 148, 'latin1');
  block.write(type, 156, 'latin1');
  block.write(linkName.slice(0, 100), 157, 'utf8');
  block.write('ustar\x0000', 257, 'latin1');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function padded(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

/** A plain tar of `entries`, then two zero blocks. */
export function tarOf(entries: readonly TarEntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? '0';
    const data = type === '0' ? Buffer.from(entry.content ?? '') : Buffer.alloc(0);
    if (entry.pax) {
      const records = Buffer.from(
        paxRecord('path', entry.name) + (entry.linkName ? paxRecord('linkpath', entry.linkName) : ''),
      );
      parts.push(header('PaxHeader', 'x', records.length, '', 0o644), padded(records));
    }
    parts.push(
      header(
        entry.name,
        type,
        data.length,
        entry.linkName ?? '',
        entry.mode ?? (type === '5' ? 0o755 : 0o644),
      ),
      padded(data),
    );
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tarGzOf(entries: readonly TarEntrySpec[]): Buffer {
  return gzipSync(tarOf(entries));
}

export function sha512Hex(data: Buffer | string): string {
  return createHash('sha512').update(data).digest('hex');
}

/** What the test cache server does with a blob request. */
export type BlobBehaviour = 'serve' | 'truncate' | 'wrong-length';

export interface TestCacheServer {
  /** `<url>/shacache` and `<url>/shadir`. */
  cacheUrl: string;
  dirUrl: string;
  server: TestHttpServer;
  blobs: Map<string, Buffer>;
  /** Raw shadir bodies by key (what GET answers); PUT appends the pair sent. */
  dir: Map<string, unknown[]>;
  blobBehaviour: BlobBehaviour;
  /** Authorization headers received on uploads. */
  uploadAuthorizations: (string | undefined)[];
  /** Status forced on uploads (POST/PUT), e.g. 500. */
  failUploads: number | undefined;
  close(): Promise<void>;
}

/** A shacache + shadir on 127.0.0.1 that stores what it is sent and answers as told. */
export async function startTestCacheServer(): Promise<TestCacheServer> {
  const state = {
    blobs: new Map<string, Buffer>(),
    dir: new Map<string, unknown[]>(),
    blobBehaviour: 'serve' as BlobBehaviour,
    uploadAuthorizations: [] as (string | undefined)[],
    failUploads: undefined as number | undefined,
  };
  const server = await startHttpServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const method = request.method ?? 'GET';
    if (method !== 'GET') {
      state.uploadAuthorizations.push(request.headers.authorization);
      if (state.failUploads !== undefined) {
        response.writeHead(state.failUploads).end('refused');
        return;
      }
    }
    if (url.pathname === '/shacache' && method === 'POST') {
      const body = request.rawBody;
      const sha = sha512Hex(body);
      state.blobs.set(sha, body);
      response.writeHead(201).end(sha);
      return;
    }
    const blob = /^\/shacache\/([0-9a-f]{128})$/.exec(url.pathname);
    if (blob?.[1] && method === 'GET') {
      const data = state.blobs.get(blob[1]);
      if (!data) return void response.writeHead(404).end();
      if (state.blobBehaviour === 'truncate') {
        response.writeHead(200, { 'content-length': data.length });
        response.write(data.subarray(0, Math.floor(data.length / 2)), () => response.socket?.destroy());
        return;
      }
      if (state.blobBehaviour === 'wrong-length') {
        // All the data, then the connection closes 10 bytes short of the announced length.
        response.writeHead(200, { 'content-length': data.length + 10 });
        response.write(data, () => response.socket?.destroy());
        return;
      }
      response.writeHead(200, { 'content-length': data.length });
      response.end(data);
      return;
    }
    const dir = /^\/shadir\/(.+)$/.exec(url.pathname);
    if (dir?.[1]) {
      const key = decodeURIComponent(dir[1]);
      if (method === 'PUT') {
        const list = state.dir.get(key) ?? [];
        list.push(JSON.parse(request.body));
        state.dir.set(key, list);
        return void response.writeHead(201).end();
      }
      const list = state.dir.get(key);
      if (!list) return void response.writeHead(404).end();
      const text = JSON.stringify(list);
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      response.end(text);
      return;
    }
    response.writeHead(404).end();
  });
  return Object.assign(state, {
    cacheUrl: `${server.url}/shacache`,
    dirUrl: `${server.url}/shadir`,
    server,
    close: () => server.close(),
  });
}
