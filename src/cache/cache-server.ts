/**
 * The cache server (`slapos cache start`): shacache and shadir as slapos.libnetworkcache speaks
 * them, on one listener (docs/cache.md).
 *
 * - `POST /shacache` (body: the blob) → 201, body: its sha512 (hex). Authenticated.
 * - `GET /shacache/<sha512>` → the blob (`Range: bytes=` honoured, as the client's retry uses). Public.
 * - `PUT /shadir/<key>` (body: JSON `[entry, signature]`) → 201. Authenticated.
 * - `GET /shadir/<key>` → JSON list of the `[entry, signature]` pairs, 404 for an unknown key. Public.
 * - `GET /health` → `{"status":"ok"}`.
 *
 * Uploads are authenticated by an upload token or a client certificate (upload-auth.ts). Every
 * refusal is an API error body `{status,type,title}`; nothing from a request reaches a file name.
 *
 * Lifecycle (`state`): `listening` once `startCacheServer` resolves → `closing` while `close()`
 * drains requests in flight (after the grace deadline the remaining connections are cut) →
 * `closed` once the index is closed and the directory's lock released. `close()` is idempotent.
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSlapError, SlapError } from '../core/errors.ts';
import { createRawBodyDaemon } from '../master/http/raw-body-daemon.ts';
import { closeWithGrace, DEFAULT_CLOSE_GRACE_MS } from '../lib/fastify-close.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { bareHost } from '../lib/loopback.ts';
import { acquirePidLock, type PidLock } from '../lib/pid-lock.ts';
import { toHttpError } from '../master/http/errors.ts';
import { decodeBody, readBody, readBodyChunks } from '../master/http/request-body.ts';
import { BlobStore, blobTooLarge, parseSha512 } from './blob-store.ts';
import { CacheIndex } from './cache-index.ts';
import { cacheLayout, type CacheLayout } from './layout.ts';
import { checkShadirKey, parseShadirPut } from './shadir-entry.ts';
import {
  certificateUploader,
  DEFAULT_CERTIFICATE_KINDS,
  describeUploader,
  presentedToken,
  uploadTokenHash,
  type Uploader,
} from './upload-auth.ts';
import { ensureInitialToken } from './upload-tokens.ts';
import { parseRange } from './byte-range.ts';

/** Default size limit of one blob: 8 GiB (a large software release archive is a few GiB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 8 * 1024 ** 3;
const HEADERS_TIMEOUT_MS = 10_000;
/** An upload has as long as slapos.libnetworkcache waits for one (an hour). */
const REQUEST_TIMEOUT_MS = 60 * 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Blobs are read in 1 MiB chunks (64 KiB by default): fewer reads and socket writes per blob. */
const READ_CHUNK_BYTES = 1024 * 1024;

export interface CacheServerTls {
  key: string | Buffer;
  cert: string | Buffer;
  /** Client certificates issued by this CA may upload (master mode: the master's CA). */
  clientCa?: string | Buffer | undefined;
}

export interface StartCacheServerOptions {
  /** The server's directory: blobs, index, upload token (created, 0700). */
  dir: string;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free one). */
  port?: number;
  /** Size limit of one blob (default DEFAULT_MAX_UPLOAD_BYTES). */
  maxUploadBytes?: number;
  tls?: CacheServerTls | undefined;
  /** Organisations (O=) of client certificates allowed to upload (default compute_node; `*`: any). */
  certificateKinds?: readonly string[];
  logger?: Logger;
  /** How long `close()` waits for requests in flight before cutting connections (default 10 s). */
  closeGraceMs?: number;
}

export type CacheServerState = 'listening' | 'closing' | 'closed';

export interface RunningCacheServer {
  /** Base URL, e.g. `http://127.0.0.1:8081`. */
  readonly url: string;
  /** The URLs a node's `[networkcache]` uses: `<url>/shacache` and `<url>/shadir`. */
  readonly shacacheUrl: string;
  readonly shadirUrl: string;
  readonly port: number;
  readonly layout: CacheLayout;
  /** True when this start made the first upload token (into `layout.tokenFile`). */
  readonly initialTokenCreated: boolean;
  readonly state: CacheServerState;
  close(): Promise<void>;
}

/** The directories served by this process's cache servers. */
const servedDirs = new Set<string>();

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

interface Context {
  blobs: BlobStore;
  index: CacheIndex;
  logger: Logger;
  maxUploadBytes: number;
  certificateKinds: readonly string[];
}

/**
 * Reads (and drops) what is left of a request's body before a refusal, so that the client reads
 * the answer rather than a reset; a body too large to drain closes the connection after the answer.
 */
async function settleBody(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const raw = request.raw;
  if (raw.complete || raw.readableEnded) return;
  await readBodyChunks(raw, { contentLength: request.headers['content-length'] }).catch(() => undefined);
  if (!raw.complete) reply.header('connection', 'close');
}

/** The uploader of `request`, or the 401 (after settling its body) that says how to be one. */
async function authenticateUpload(
  context: Context,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Uploader> {
  const fromCertificate = certificateUploader(request.raw.socket, context.certificateKinds);
  if (fromCertificate) return fromCertificate;
  const token = presentedToken(request.headers.authorization);
  const label = token === undefined ? undefined : context.index.tokenLabel(uploadTokenHash(token));
  if (label !== undefined) return { kind: 'token', label };
  await settleBody(request, reply);
  reply.header('www-authenticate', 'Bearer realm="slapos-cache"');
  throw new SlapError(
    'SLAP_ERR_UNAUTHENTICATED',
    token === undefined && request.headers.authorization === undefined
      ? 'Uploads need an upload token (Authorization: Bearer <token>) or a client certificate.'
      : 'The upload token is not valid.',
  );
}

function registerShacache(app: FastifyInstance, context: Context): void {
  app.post('/shacache', async (request, reply) => {
    const uploader = await authenticateUpload(context, request, reply);
    const announced = Number(request.headers['content-length'] ?? '0');
    if (announced > context.maxUploadBytes) {
      await settleBody(request, reply);
      throw blobTooLarge(context.maxUploadBytes);
    }
    let stored;
    try {
      stored = await context.blobs.put(request.raw, { maxBytes: context.maxUploadBytes });
    } catch (error) {
      // The client may still be sending: the answer ends the connection.
      reply.header('connection', 'close');
      // Node's request stream fails so when the client goes away mid-body.
      if (!isSlapError(error) && (error as NodeJS.ErrnoException).code === 'ECONNRESET')
        throw new SlapError(
          'SLAP_ERR_INVALID_INPUT',
          'The upload ended before its whole body was received.',
          {
            cause: error,
          },
        );
      throw error;
    }
    context.logger.info(
      {
        sha512: stored.sha512,
        size: stored.size,
        created: stored.created,
        uploader: describeUploader(uploader),
      },
      'shacache: blob uploaded',
    );
    return reply.code(201).type('text/plain; charset=utf-8').send(stored.sha512);
  });

  app.get('/shacache/*', async (request, reply) => {
    const name = (request.params as { '*': string })['*'];
    const sha512 = parseSha512(name);
    if (sha512 === undefined)
      throw new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        'A shacache blob is named by its sha512: 128 hexadecimal digits (/shacache/<sha512>).',
      );
    const blob = await context.blobs.find(sha512);
    if (blob === undefined) throw new SlapError('SLAP_ERR_NOT_FOUND', 'No such blob in this shacache.');
    reply
      .header('accept-ranges', 'bytes')
      .header('etag', `"${sha512}"`)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .type('application/octet-stream');
    const range = parseRange(request.headers.range, blob.size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${blob.size}`);
      throw new SlapError('SLAP_ERR_INVALID_INPUT', 'The requested range is outside the blob.', {
        status: 416,
      });
    }
    if (range === undefined) {
      reply.header('content-length', blob.size);
      return reply.send(createReadStream(blob.path, { highWaterMark: READ_CHUNK_BYTES }));
    }
    reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`)
      .header('content-length', range.end - range.start + 1);
    return reply.send(
      createReadStream(blob.path, { start: range.start, end: range.end, highWaterMark: READ_CHUNK_BYTES }),
    );
  });
}

function registerShadir(app: FastifyInstance, context: Context): void {
  const keyOf = (request: FastifyRequest): string => checkShadirKey((request.params as { '*': string })['*']);

  app.put('/shadir/*', async (request, reply) => {
    const uploader = await authenticateUpload(context, request, reply);
    let key: string;
    try {
      key = keyOf(request);
    } catch (error) {
      await settleBody(request, reply);
      throw error;
    }
    const body = await readBody(request.raw, { contentLength: request.headers['content-length'] }).catch(
      (error: unknown) => {
        reply.header('connection', 'close');
        throw error;
      },
    );
    const entry = parseShadirPut(decodeBody(body));
    const created = context.index.put(key, entry);
    context.logger.info(
      {
        key,
        sha512: entry.sha512,
        created,
        signed: entry.signature !== '',
        uploader: describeUploader(uploader),
      },
      'shadir: entry put',
    );
    return reply.code(201).send({ key, sha512: entry.sha512, created });
  });

  app.get('/shadir/*', async (request, reply) => {
    const key = keyOf(request);
    const entries = context.index.list(key);
    if (entries.length === 0) throw new SlapError('SLAP_ERR_NOT_FOUND', 'No entry under this shadir key.');
    return reply
      .header('cache-control', 'no-cache')
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(entries));
  });
}

export async function startCacheServer(options: StartCacheServerOptions): Promise<RunningCacheServer> {
  const host = bareHost(options.host ?? '127.0.0.1');
  const requestedPort = options.port ?? 0;
  const logger = options.logger ?? silentLogger();
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  if (!Number.isSafeInteger(maxUploadBytes) || maxUploadBytes < 1)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `the upload size limit must be a positive integer, not ${maxUploadBytes}`,
    );
  const { tls } = options;
  const layout = cacheLayout(resolve(options.dir));
  // The pid lock keeps other processes out; this set, other servers of this process.
  if (servedDirs.has(layout.dir))
    throw new SlapError('SLAP_ERR_LOCKED', `another cache server of this process serves ${layout.dir}`);
  servedDirs.add(layout.dir);
  let lock: PidLock | undefined;
  let index: CacheIndex | undefined;
  let app: FastifyInstance | undefined;
  try {
    await mkdir(layout.dir, { recursive: true, mode: 0o700 });
    lock = await acquirePidLock(layout.lockFile, { what: 'cache server' });
    const blobs = await BlobStore.open(layout);
    index = CacheIndex.open(layout.index);
    const initialTokenCreated = await ensureInitialToken(layout, index);
    const context: Context = {
      blobs,
      index,
      logger,
      maxUploadBytes,
      certificateKinds: options.certificateKinds ?? DEFAULT_CERTIFICATE_KINDS,
    };
    app = createApp(context, tls);
    await app.listen({ host, port: requestedPort }).catch((error: unknown) => {
      throw new SlapError(
        'SLAP_ERR_LISTEN_FAILED',
        `cannot listen on ${urlHost(host)}:${requestedPort}: ${(error as Error).message}`,
        { cause: error },
      );
    });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : requestedPort;
    const url = `${tls === undefined ? 'http' : 'https'}://${urlHost(host)}:${port}`;
    logger.info(
      {
        url,
        dir: layout.dir,
        maxUploadBytes,
        uploads: tls?.clientCa === undefined ? 'upload tokens' : 'upload tokens and client certificates',
      },
      'cache server listening',
    );
    return running({ app, index, lock, logger, layout, url, port, initialTokenCreated, options });
  } catch (error) {
    await app?.close().catch(() => undefined);
    index?.close();
    await lock?.release();
    servedDirs.delete(layout.dir);
    throw error;
  }
}

function createApp(context: Context, tls: CacheServerTls | undefined): FastifyInstance {
  const app = createRawBodyDaemon(
    {
      logger: context.logger,
      noSchemasReason: 'the cache server has no route schemas',
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      connectionsCheckingIntervalMs: 1_000,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      maxParamLength: 2048,
      // Client certificates may upload; not required: downloads are public.
      tls,
    },
    { messagePrefix: '', requestFields: (request) => ({ method: request.method, url: request.url }) },
  );
  app.setNotFoundHandler((request, reply) => {
    const body = toHttpError(
      new SlapError(
        'SLAP_ERR_NOT_FOUND',
        `No route ${request.method} ${request.url.split('?')[0] ?? ''}: this is a cache server (/shacache, /shadir, /health).`,
      ),
    ).body;
    return reply.code(404).type('application/json').send(JSON.stringify(body));
  });
  app.get('/health', async (_request, reply) => reply.send({ status: 'ok' }));
  registerShacache(app, context);
  registerShadir(app, context);
  return app;
}

function running(parts: {
  app: FastifyInstance;
  index: CacheIndex;
  lock: PidLock;
  logger: Logger;
  layout: CacheLayout;
  url: string;
  port: number;
  initialTokenCreated: boolean;
  options: StartCacheServerOptions;
}): RunningCacheServer {
  const { app, index, lock, logger, url } = parts;
  let state: CacheServerState = 'listening';
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'closing';
      try {
        await closeWithGrace(app, parts.options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS, logger);
      } finally {
        index.close();
        await lock.release();
        servedDirs.delete(parts.layout.dir);
        state = 'closed';
        logger.info({ url }, 'cache server closed');
      }
    })();
    return closing;
  };
  return {
    url,
    shacacheUrl: `${url}/shacache`,
    shadirUrl: `${url}/shadir`,
    port: parts.port,
    layout: parts.layout,
    initialTokenCreated: parts.initialTokenCreated,
    get state() {
      return state;
    },
    close,
  };
}
