/**
 * The node's backup repository server: restic's REST protocol (v1 and v2, what
 * `restic -r rest:https://HOST:PORT/tree-17/` speaks) over HTTPS, for the nodes that push backups
 * of a tree to this node (docs/resiliency.md).
 *
 * Routes, under `/<repository>/` (repository names `tree-<digits>`):
 * - `POST /<repository>/?create=true` makes the repository's directories;
 * - `HEAD|GET|POST /<repository>/config`;
 * - `GET /<repository>/<type>/` lists a type's files: v1 a JSON list of names, v2 (`Accept:
 *   application/vnd.x.restic.rest.v2`) `[{name,size}]`;
 * - `HEAD|GET|POST|DELETE /<repository>/<type>/<name>`, `Range` honoured on GET;
 * where `type` is data (stored under `data/<first two hex digits>/`), keys, locks, snapshots, index.
 *
 * Trust: every request needs a client certificate that chains to the master's CA (`clientCa`) and
 * whose subject is a compute node's (`CN=<node id>, O=compute_node`, read as the cache server reads
 * it); `authorize` then says whether that node may use the repository: `append` clients (a clone's
 * writers) may read and append, `read` clients (nodes restoring a backup into another tree) only
 * read (HEAD and GET) and take their locks (at most 64 KiB each). None ever deletes or replaces:
 * DELETE is for lock files only, an upload of an existing name keeps the stored file (every name
 * but `config` is the SHA-256 of the content, which is checked), and a different `config` is
 * refused; anything else a reader tries is a 403. Retention is the serving node's own job (restic
 * on the directory).
 *
 * Uploads stream to a temporary file (size-limited, hashed), are synced, then renamed into place.
 * Nothing from a request becomes a path unless it matched the route grammar above; anything else is
 * a 400 with the API error body `{status,type,title}`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSlapError, SlapError } from '../../core/errors.ts';
import { parseRange } from '../../cache/byte-range.ts';
import { certificateUploader } from '../../cache/upload-auth.ts';
import { closeWithGrace } from '../../lib/fastify-close.ts';
import type { Logger } from '../../lib/logger.ts';
import { bareHost } from '../../lib/loopback.ts';
import { createRawBodyDaemon } from '../../master/http/raw-body-daemon.ts';
import { readBodyChunks } from '../../master/http/request-body.ts';

export interface RepositoryAccess {
  /** The compute node id of the client certificate (master CA, kind compute_node). */
  computeNodeId: string;
}

/**
 * `append`: read and add (a clone's writers); `read`: read only, and take and release locks (a node
 * restoring one of the tree's backups into another tree); `none`: nothing.
 */
export type RepositoryPermission = 'append' | 'read' | 'none';

export interface RepositoryServerOptions {
  /** `<directory>/<repository name>/{config,keys,locks,snapshots,index,data/xx}` */
  directory: string;
  host: string;
  port: number;
  /** The server's key and certificate (ensureServerCertificate), and the master's CA for clients. */
  tls: { key: string; cert: string; clientCa: string };
  /** Who may read, or read and append to, a repository (never delete, except lock files). */
  authorize(access: RepositoryAccess, repository: string): RepositoryPermission;
  /** A snapshot file was stored in `repository` (a clone's restore loop wakes). */
  onSnapshot?(repository: string): void;
  logger: Logger;
  /** Size limit of one uploaded file (default 256 MiB; restic's packs are a few MiB to 128 MiB). */
  maxUploadBytes?: number;
  /** How long `close()` waits for requests in flight (default 10 s). */
  closeGraceMs?: number;
}

export interface RepositoryServerStats {
  /** Bytes of request bodies received (uploads). */
  bytesReceived: number;
  /** Bytes of files sent (downloads). */
  bytesSent: number;
}

export interface RunningRepositoryServer {
  /** `https://HOST:PORT` (a repository's restic URL is `rest:<url>/<repository>/`). */
  url: string;
  stats(): RepositoryServerStats;
  close(): Promise<void>;
}

export const REPOSITORY_NAME_PATTERN = /^tree-[0-9]{1,18}$/;
export const DEFAULT_REPOSITORY_MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
const FILE_TYPES = ['data', 'keys', 'locks', 'snapshots', 'index'] as const;
type FileType = (typeof FILE_TYPES)[number];
const NAME_PATTERN = /^[0-9a-f]{64}$/;
const CONFIG_MAX_BYTES = 64 * 1024;
const LOCK_MAX_BYTES = 64 * 1024;
const API_V2 = 'application/vnd.x.restic.rest.v2';
const API_V1 = 'application/vnd.x.restic.rest.v1';
const INCOMING = '.incoming';
const READ_CHUNK_BYTES = 1024 * 1024;

/** What a request path names, once it matched the grammar. */
type Resource =
  | { kind: 'repository'; repository: string }
  | { kind: 'config'; repository: string }
  | { kind: 'list'; repository: string; type: FileType }
  | { kind: 'file'; repository: string; type: FileType; name: string };

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

/** The resource of a raw request path (no percent-decoding: nothing valid needs it), or a 400. */
export function parseRepositoryPath(rawUrl: string): { resource: Resource; query: string } {
  const question = rawUrl.indexOf('?');
  const path = question < 0 ? rawUrl : rawUrl.slice(0, question);
  const query = question < 0 ? '' : rawUrl.slice(question + 1);
  const parts = path.split('/');
  const [empty, repository, second, third, ...rest] = parts;
  if (empty !== '' || repository === undefined || !REPOSITORY_NAME_PATTERN.test(repository))
    throw invalid('A repository path is /tree-<digits>/…');
  if (second === undefined || (second === '' && third === undefined))
    return { resource: { kind: 'repository', repository }, query };
  if (second === 'config' && third === undefined) return { resource: { kind: 'config', repository }, query };
  const type = FILE_TYPES.find((candidate) => candidate === second);
  if (type === undefined || third === undefined || rest.length > 0)
    throw invalid(
      'A repository file path is /<repository>/{config,data,keys,locks,snapshots,index}[/<sha256>].',
    );
  if (third === '') return { resource: { kind: 'list', repository, type }, query };
  if (!NAME_PATTERN.test(third))
    throw invalid('A repository file is named by 64 lowercase hexadecimal digits.');
  return { resource: { kind: 'file', repository, type, name: third }, query };
}

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

interface Context {
  directory: string;
  incoming: string;
  options: RepositoryServerOptions;
  maxUploadBytes: number;
  stats: RepositoryServerStats;
}

function repositoryDir(context: Context, repository: string): string {
  return join(context.directory, repository);
}

function filePath(context: Context, repository: string, type: FileType, name: string): string {
  const base = join(repositoryDir(context, repository), type);
  return type === 'data' ? join(base, name.slice(0, 2), name) : join(base, name);
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Reads (and drops) what is left of a refused request's body so the client reads the answer. */
async function settleBody(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const raw = request.raw;
  if (raw.complete || raw.readableEnded) return;
  await readBodyChunks(raw, { contentLength: request.headers['content-length'] }).catch(() => undefined);
  if (!raw.complete) reply.header('connection', 'close');
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Streams the request body into a temporary file, hashing it, under `maxBytes`; returns its path and
 * SHA-256. The file is synced; on any failure it is removed.
 */
async function receive(
  context: Context,
  body: IncomingMessage,
  maxBytes: number,
): Promise<{ temporary: string; sha256: string; size: number }> {
  const temporary = join(context.incoming, `upload-${randomBytes(12).toString('hex')}`);
  const hash = createHash('sha256');
  let size = 0;
  try {
    const handle = await open(temporary, 'wx', 0o600);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.byteLength;
        context.stats.bytesReceived += chunk.byteLength;
        if (size > maxBytes)
          throw new SlapError(
            'SLAP_ERR_PAYLOAD_TOO_LARGE',
            `An upload is over the size limit of ${maxBytes} bytes.`,
          );
        hash.update(chunk);
        await handle.write(chunk);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    return { temporary, sha256: hash.digest('hex'), size };
  } catch (error) {
    await rm(temporary, { force: true });
    if (!isSlapError(error) && (error as NodeJS.ErrnoException).code === 'ECONNRESET')
      throw invalid('The upload ended before its whole body was received.');
    if (['ENOSPC', 'EDQUOT'].includes((error as NodeJS.ErrnoException).code ?? ''))
      throw new SlapError(
        'SLAP_ERR_DISK_FULL',
        'The repository server has no disk space left for this upload.',
      );
    throw error;
  }
}

/**
 * What a `read` client may do: HEAD and GET anything, POST and DELETE lock files (restic takes a
 * lock even to read, on some commands).
 */
function readerMayDo(resource: Resource, method: string): boolean {
  if (method === 'HEAD' || method === 'GET') return resource.kind !== 'repository';
  return resource.kind === 'file' && resource.type === 'locks' && (method === 'POST' || method === 'DELETE');
}

async function authorizeRequest(
  context: Context,
  request: FastifyRequest,
  reply: FastifyReply,
  resource: Resource,
): Promise<void> {
  const repository = resource.repository;
  const certificate = certificateUploader(request.raw.socket, ['compute_node']);
  if (certificate?.kind !== 'certificate') {
    await settleBody(request, reply);
    throw new SlapError(
      'SLAP_ERR_UNAUTHENTICATED',
      "A backup repository needs a compute node's client certificate issued by the master's CA.",
    );
  }
  const access: RepositoryAccess = { computeNodeId: certificate.subject.commonName };
  const permission = context.options.authorize(access, repository);
  if (permission === 'append' || (permission === 'read' && readerMayDo(resource, request.method))) return;
  await settleBody(request, reply);
  throw new SlapError(
    'SLAP_ERR_FORBIDDEN',
    permission === 'read'
      ? `This compute node may only read the repository ${repository} (and take its locks).`
      : `This compute node may not use the repository ${repository}.`,
  );
}

async function serveFile(
  request: FastifyRequest,
  reply: FastifyReply,
  context: Context,
  path: string,
): Promise<FastifyReply> {
  const size = await fileSize(path);
  if (size === undefined) throw new SlapError('SLAP_ERR_NOT_FOUND', 'No such file in this repository.');
  reply.header('accept-ranges', 'bytes').type('application/octet-stream');
  if (request.method === 'HEAD') return reply.header('content-length', size).send();
  const range = parseRange(request.headers.range, size);
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${size}`);
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'The requested range is outside the file.', {
      status: 416,
    });
  }
  const [start, end] = range === undefined ? [0, size - 1] : [range.start, range.end];
  if (range !== undefined) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
  reply.header('content-length', end - start + 1);
  context.stats.bytesSent += end - start + 1;
  if (size === 0) return reply.send('');
  return reply.send(createReadStream(path, { start, end, highWaterMark: READ_CHUNK_BYTES }));
}

async function listFiles(
  context: Context,
  repository: string,
  type: FileType,
): Promise<{ name: string; size: number }[]> {
  const base = join(repositoryDir(context, repository), type);
  const dirs =
    type === 'data'
      ? (await readdir(base).catch(() => [] as string[]))
          .filter((d) => /^[0-9a-f]{2}$/.test(d))
          .map((d) => join(base, d))
      : [base];
  const files: { name: string; size: number }[] = [];
  for (const dir of dirs) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!NAME_PATTERN.test(name)) continue;
      const size = await fileSize(join(dir, name));
      if (size !== undefined) files.push({ name, size });
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

async function createRepository(context: Context, repository: string): Promise<void> {
  const root = repositoryDir(context, repository);
  await mkdir(root, { recursive: true, mode: 0o700 });
  for (const type of FILE_TYPES) await mkdir(join(root, type), { recursive: true, mode: 0o700 });
  await Promise.all(
    Array.from({ length: 256 }, (_, i) =>
      mkdir(join(root, 'data', i.toString(16).padStart(2, '0')), { recursive: true, mode: 0o700 }),
    ),
  );
}

async function requireRepository(context: Context, repository: string): Promise<void> {
  if ((await stat(repositoryDir(context, repository)).catch(() => undefined))?.isDirectory() !== true)
    throw new SlapError(
      'SLAP_ERR_NOT_FOUND',
      `No repository ${repository} here (POST /${repository}/?create=true).`,
    );
}

async function storeConfig(context: Context, request: FastifyRequest, repository: string): Promise<void> {
  await requireRepository(context, repository);
  const path = join(repositoryDir(context, repository), 'config');
  const upload = await receive(context, request.raw, CONFIG_MAX_BYTES);
  try {
    const existing = await readFile(path).catch(() => undefined);
    if (existing !== undefined) {
      const same = createHash('sha256').update(existing).digest('hex') === upload.sha256;
      if (!same)
        throw new SlapError(
          'SLAP_ERR_FORBIDDEN',
          'This repository has a configuration already; it is never replaced.',
        );
      return;
    }
    await rename(upload.temporary, path);
    await syncDirectory(repositoryDir(context, repository));
  } finally {
    await rm(upload.temporary, { force: true });
  }
}

async function storeFile(
  context: Context,
  request: FastifyRequest,
  reply: FastifyReply,
  resource: Extract<Resource, { kind: 'file' }>,
): Promise<void> {
  const { repository, type, name } = resource;
  await requireRepository(context, repository);
  const announced = Number(request.headers['content-length'] ?? '0');
  // A lock is a few hundred bytes: readers may take locks, never fill the disk with them.
  const limit = type === 'locks' ? LOCK_MAX_BYTES : context.maxUploadBytes;
  if (announced > limit) {
    await settleBody(request, reply);
    throw new SlapError('SLAP_ERR_PAYLOAD_TOO_LARGE', `An upload is over the size limit of ${limit} bytes.`);
  }
  let upload;
  try {
    upload = await receive(context, request.raw, limit);
  } catch (error) {
    reply.header('connection', 'close');
    throw error;
  }
  try {
    if (upload.sha256 !== name)
      throw invalid('The uploaded content does not match its name (the SHA-256 of the content).');
    const path = filePath(context, repository, type, name);
    // Same name, same content: the stored file stays as it is (an upload retried, or a replay).
    if ((await fileSize(path)) !== undefined) return;
    const dir = join(path, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await rename(upload.temporary, path);
    await syncDirectory(dir);
    context.options.logger.debug({ repository, type, name, size: upload.size }, 'repository: file stored');
    if (type === 'snapshots') {
      context.options.logger.info({ repository, snapshot: name }, 'repository: snapshot received');
      try {
        context.options.onSnapshot?.(repository);
      } catch (error) {
        context.options.logger.error({ err: error, repository }, 'repository: onSnapshot failed');
      }
    }
  } finally {
    await rm(upload.temporary, { force: true });
  }
}

async function handle(context: Context, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  let parsed;
  try {
    parsed = parseRepositoryPath(request.url);
  } catch (error) {
    await settleBody(request, reply);
    throw error;
  }
  const { resource, query } = parsed;
  await authorizeRequest(context, request, reply, resource);
  const method = request.method;
  const refuse = async (message: string, code: 'SLAP_ERR_FORBIDDEN' | 'SLAP_ERR_METHOD_NOT_ALLOWED') => {
    await settleBody(request, reply);
    throw new SlapError(code, message);
  };
  switch (resource.kind) {
    case 'repository':
      if (method === 'POST' && query === 'create=true') {
        await settleBody(request, reply);
        await createRepository(context, resource.repository);
        return reply.code(200).send('');
      }
      if (method === 'DELETE')
        return refuse('Repositories are never deleted through this server.', 'SLAP_ERR_FORBIDDEN');
      return refuse(
        'On a repository itself only POST ?create=true is allowed.',
        'SLAP_ERR_METHOD_NOT_ALLOWED',
      );
    case 'config':
      if (method === 'HEAD' || method === 'GET')
        return serveFile(
          request,
          reply,
          context,
          join(repositoryDir(context, resource.repository), 'config'),
        );
      if (method === 'POST') {
        await storeConfig(context, request, resource.repository);
        return reply.code(200).send('');
      }
      return refuse('A repository configuration is read or created, never deleted.', 'SLAP_ERR_FORBIDDEN');
    case 'list': {
      if (method !== 'GET') return refuse('A listing is read with GET.', 'SLAP_ERR_METHOD_NOT_ALLOWED');
      await requireRepository(context, resource.repository);
      const files = await listFiles(context, resource.repository, resource.type);
      const v2 = (request.headers.accept ?? '').includes(API_V2);
      const body = JSON.stringify(v2 ? files : files.map((file) => file.name));
      return reply
        .code(200)
        .type(v2 ? API_V2 : API_V1)
        .send(body);
    }
    case 'file': {
      const path = filePath(context, resource.repository, resource.type, resource.name);
      if (method === 'HEAD' || method === 'GET') return serveFile(request, reply, context, path);
      if (method === 'POST') {
        await storeFile(context, request, reply, resource);
        return reply.code(200).send('');
      }
      if (method === 'DELETE') {
        if (resource.type !== 'locks')
          return refuse('This repository is append-only: only lock files are deleted.', 'SLAP_ERR_FORBIDDEN');
        await rm(path, { force: true });
        return reply.code(200).send('');
      }
      return refuse(`${method} is not a method of restic's REST protocol.`, 'SLAP_ERR_METHOD_NOT_ALLOWED');
    }
  }
}

function createApp(context: Context): FastifyInstance {
  const { options } = context;
  const app = createRawBodyDaemon(
    {
      logger: options.logger,
      noSchemasReason: 'the repository server has no route schemas',
      headersTimeoutMs: 10_000,
      connectionsCheckingIntervalMs: 1_000,
      requestTimeoutMs: 30 * 60_000,
      keepAliveTimeoutMs: 60_000,
      maxParamLength: 256,
      tls: options.tls,
    },
    { messagePrefix: 'repository: ', requestFields: (request) => ({ method: request.method }) },
  );
  const route = (request: FastifyRequest, reply: FastifyReply) => handle(context, request, reply);
  app.setNotFoundHandler(route);
  app.route({
    method: ['GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'],
    url: '/*',
    exposeHeadRoute: false,
    handler: route,
  });
  return app;
}

export async function startRepositoryServer(
  options: RepositoryServerOptions,
): Promise<RunningRepositoryServer> {
  const directory = resolve(options.directory);
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_REPOSITORY_MAX_UPLOAD_BYTES;
  if (!Number.isSafeInteger(maxUploadBytes) || maxUploadBytes < CONFIG_MAX_BYTES)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `The repository upload limit must be an integer of at least ${CONFIG_MAX_BYTES}.`,
    );
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const incoming = join(directory, INCOMING);
  // Uploads a crash left half done.
  await rm(incoming, { recursive: true, force: true });
  await mkdir(incoming, { mode: 0o700 });
  const stats: RepositoryServerStats = { bytesReceived: 0, bytesSent: 0 };
  const context: Context = { directory, incoming, options, maxUploadBytes, stats };
  const app = createApp(context);
  const host = bareHost(options.host);
  try {
    await app.listen({ host, port: options.port });
  } catch (error) {
    await app.close().catch(() => undefined);
    throw new SlapError(
      'SLAP_ERR_LISTEN_FAILED',
      `The repository server cannot listen on ${urlHost(host)}:${options.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `https://${urlHost(host)}:${port}`;
  options.logger.info({ url, directory }, 'repository server listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    stats: () => ({ ...stats }),
    close: () => {
      closing ??= closeWithGrace(app, options.closeGraceMs ?? 10_000, options.logger).then(() =>
        options.logger.info({ url }, 'repository server closed'),
      );
      return closing;
    },
  };
}

export { ensureServerCertificate, type ServerCertificateFiles } from './server-certificate.ts';
