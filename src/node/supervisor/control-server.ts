/**
 * The supervisor's control API: HTTP/1.1 with JSON bodies over the daemon's unix socket (mode
 * 0600), so it can be driven with `curl --unix-socket <instance_root>/sv.sock http://sv/v1/status`.
 *
 *   GET    /v1/status                              → SupervisorStatus
 *   PUT    /v1/groups/<group>        {programs}    → GroupUpdateResult (declare a group's programs)
 *   DELETE /v1/groups/<group>                      → GroupUpdateResult
 *   POST   /v1/groups/<group>/start  {wait?}       → {results: ActionResult[]}
 *   POST   /v1/groups/<group>/stop                 → {results: ActionResult[]}
 *   POST   /v1/processes/<group:name>/start|stop|restart {wait?} → ProcessInfo
 *   GET    /v1/processes/<group:name>/log?bytes=&offset=        → LogTail
 *   GET    /v1/events?after=<seq>&timeoutMs=<ms>   → EventBatch (long poll, up to 60 s)
 *   POST   /v1/shutdown              {stopPrograms?} → {ok: true}, then the daemon exits
 *
 * Errors: `{status, type, title, hint?, details?}` with `type` a code of the error catalog, as the
 * master's JSON API answers. Nothing a client sends can take the daemon down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SlapError, toSlapError } from '../../core/errors.ts';
import type { SupervisorLogger } from './logger.ts';
import type { Supervisor } from './supervisor.ts';
import type { ProgramSpec, ShutdownOptions } from './types.ts';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ControlHandlerOptions {
  supervisor: Supervisor;
  logger: SupervisorLogger;
  /** Called for POST /v1/shutdown; the answer is sent once it resolves. */
  shutdown: (options: ShutdownOptions) => Promise<void>;
  /** Aborted when the daemon closes: pending long polls answer at once. */
  closing: AbortSignal;
}

type Json = Record<string, unknown>;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function sendError(res: ServerResponse, error: SlapError): void {
  send(res, error.status, {
    status: error.status,
    type: error.code,
    title: error.message,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

function payloadTooLarge(): SlapError {
  return new SlapError('SLAP_ERR_PAYLOAD_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
}

/**
 * The request's body as text. Over the limit (declared by Content-Length, or seen while reading a
 * chunked body) it stops reading, without destroying the request: the 413 is still answered, then
 * the connection closed (see the handler).
 */
function readBodyText(req: IncomingMessage): Promise<string> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return Promise.reject(payloadTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      done();
      req.pause();
      reject(payloadTooLarge());
    };
    const onEnd = (): void => {
      done();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error): void => {
      done();
      reject(error);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

async function readBody(req: IncomingMessage): Promise<Json> {
  const text = (await readBodyText(req)).trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'request body must be a JSON object');
  return value as Json;
}

function optionalBoolean(body: Json, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean')
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `${key}: must be true or false`);
  return value;
}

function integerParam(params: URLSearchParams, key: string): number | undefined {
  const raw = params.get(key);
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `${key}: must be a non-negative integer`);
  return Number(raw);
}

function methodNotAllowed(method: string, path: string): SlapError {
  return new SlapError('SLAP_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
}

function startOptions(body: Json): { wait?: boolean } {
  const wait = optionalBoolean(body, 'wait');
  return wait === undefined ? {} : { wait };
}

/** Returns the request listener of the control server. */
export function createControlHandler(
  options: ControlHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { supervisor } = options;

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://supervisor');
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (segments[0] !== 'v1') throw new SlapError('SLAP_ERR_NOT_FOUND', `no route ${url.pathname}`);
    const [, resource, id, action, ...rest] = segments;
    if (rest.length > 0) throw new SlapError('SLAP_ERR_NOT_FOUND', `no route ${url.pathname}`);

    if (resource === 'status' && id === undefined) {
      if (method !== 'GET') throw methodNotAllowed(method, url.pathname);
      return send(res, 200, await supervisor.status());
    }
    if (resource === 'events' && id === undefined) {
      if (method !== 'GET') throw methodNotAllowed(method, url.pathname);
      const after = integerParam(url.searchParams, 'after') ?? 0;
      const timeoutMs = integerParam(url.searchParams, 'timeoutMs') ?? 0;
      const abort = new AbortController();
      const onClose = (): void => abort.abort();
      res.on('close', onClose);
      options.closing.addEventListener('abort', onClose, { once: true });
      if (options.closing.aborted) abort.abort();
      try {
        const batch = await supervisor.waitEvents(after, { timeoutMs, signal: abort.signal });
        if (!res.destroyed) send(res, 200, batch);
      } finally {
        options.closing.removeEventListener('abort', onClose);
      }
      return;
    }
    if (resource === 'shutdown' && id === undefined) {
      if (method !== 'POST') throw methodNotAllowed(method, url.pathname);
      const stopPrograms = optionalBoolean(await readBody(req), 'stopPrograms') ?? false;
      await options.shutdown({ stopPrograms });
      return send(res, 200, { ok: true, stopPrograms });
    }
    if (resource === 'groups' && id !== undefined) {
      if (action === undefined) {
        if (method === 'PUT') {
          const body = await readBody(req);
          if (!('programs' in body))
            throw new SlapError('SLAP_ERR_INVALID_INPUT', 'programs: required (a list of programs)');
          // updateGroup validates every program (the body is untrusted).
          return send(res, 200, await supervisor.updateGroup(id, body.programs as readonly ProgramSpec[]));
        }
        if (method === 'DELETE') return send(res, 200, await supervisor.removeGroup(id));
        throw methodNotAllowed(method, url.pathname);
      }
      if (action === 'start' || action === 'stop') {
        if (method !== 'POST') throw methodNotAllowed(method, url.pathname);
        const body = await readBody(req);
        const results =
          action === 'start'
            ? await supervisor.startGroup(id, startOptions(body))
            : await supervisor.stopGroup(id);
        return send(res, 200, { results });
      }
    }
    if (resource === 'processes' && id !== undefined && action !== undefined) {
      if (action === 'log') {
        if (method !== 'GET') throw methodNotAllowed(method, url.pathname);
        const bytes = integerParam(url.searchParams, 'bytes');
        const offset = integerParam(url.searchParams, 'offset');
        return send(
          res,
          200,
          await supervisor.tail(id, {
            ...(bytes === undefined ? {} : { bytes }),
            ...(offset === undefined ? {} : { offset }),
          }),
        );
      }
      if (action === 'start' || action === 'stop' || action === 'restart') {
        if (method !== 'POST') throw methodNotAllowed(method, url.pathname);
        const body = await readBody(req);
        if (action === 'stop') return send(res, 200, await supervisor.stopProcess(id));
        if (action === 'start') return send(res, 200, await supervisor.startProcess(id, startOptions(body)));
        return send(res, 200, await supervisor.restartProcess(id, startOptions(body)));
      }
    }
    throw new SlapError('SLAP_ERR_NOT_FOUND', `no route ${method} ${url.pathname}`);
  };

  return (req, res) => {
    route(req, res).catch((error: unknown) => {
      let slapError: SlapError;
      if (error instanceof URIError)
        slapError = new SlapError('SLAP_ERR_INVALID_INPUT', 'malformed URL encoding');
      else slapError = toSlapError(error);
      if (slapError.code === 'SLAP_ERR_INTERNAL')
        options.logger.error({ err: error, url: req.url }, 'control request failed');
      if (!res.headersSent && !res.destroyed) {
        // A body left unread (too large): the connection cannot carry another request.
        if (!req.complete) res.setHeader('connection', 'close');
        sendError(res, slapError);
      } else res.destroy();
    });
  };
}
