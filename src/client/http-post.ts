/**
 * GET and POST over node:http(s) with one keep-alive agent: a connect deadline, the caller's AbortSignal, a
 * cap on the answer's size; `close()` waits for the calls in progress, then closes the connections.
 * Answers may come gzip'd (we ask for it: the master sends its memoized lists so): the cap then
 * bounds the decompressed size too, so that a small "gzip bomb" is refused without being inflated.
 * Failures are errors with node's codes (ECONNREFUSED, ECONNRESET, ETIMEDOUT, TLS codes…), which
 * master-errors.ts turns into SlapErrors.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { gunzip } from 'node:zlib';

export interface HttpPosterOptions {
  secure: boolean;
  connectTimeoutMs: number;
  /** How long an idle connection is kept for the next call. */
  keepAliveMs: number;
  /** PEM material for https (certificate authorities, client certificate and key). */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
}

export interface PostOptions {
  /** POST (the default) sends `body`; GET sends none. */
  method?: 'GET' | 'POST';
  headers: Readonly<Record<string, string>>;
  body: string;
  signal: AbortSignal;
  maxResponseBytes: number;
  /** The error of an answer over maxResponseBytes (on the wire or once decompressed). */
  tooLarge: () => Error;
  /** The error of an answer whose body cannot be decoded (unknown content-encoding, corrupt gzip). */
  undecodable: (reason: string) => Error;
}

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The text of an answer's body, decompressed as its Content-Encoding says, within maxResponseBytes. */
async function decodeBody(
  encoding: string | undefined,
  body: Buffer,
  options: Pick<PostOptions, 'maxResponseBytes' | 'tooLarge' | 'undecodable'>,
): Promise<string> {
  const coding = encoding?.trim().toLowerCase() ?? '';
  if (coding === '' || coding === 'identity') return body.toString('utf8');
  if (coding !== 'gzip' && coding !== 'x-gzip')
    throw options.undecodable(`an unknown content-encoding ${JSON.stringify(encoding?.slice(0, 100))}`);
  try {
    // maxOutputLength stops inflating past the cap (RangeError ERR_BUFFER_TOO_LARGE).
    const text = await new Promise<Buffer>((resolve, reject) =>
      gunzip(body, { maxOutputLength: options.maxResponseBytes }, (error, result) =>
        error ? reject(error) : resolve(result),
      ),
    );
    return text.toString('utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw options.tooLarge();
    throw options.undecodable(`a gzip body that does not decompress (${(error as Error).message})`);
  }
}

export class HttpPoster {
  private readonly agent: HttpAgent;
  private readonly secure: boolean;
  private readonly connectTimeoutMs: number;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(options: HttpPosterOptions) {
    this.secure = options.secure;
    this.connectTimeoutMs = options.connectTimeoutMs;
    const common = { keepAlive: true, timeout: options.keepAliveMs, scheduling: 'lifo' as const };
    this.agent = options.secure ? new HttpsAgent({ ...common, ...options.tls }) : new HttpAgent(common);
  }

  post(url: URL, options: PostOptions): Promise<{ status: number; text: string }> {
    const call = this.send(url, options);
    this.inFlight.add(call);
    const forget = (): void => void this.inFlight.delete(call);
    call.then(forget, forget);
    return call;
  }

  /** Waits for the calls in progress, then closes every connection. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    this.agent.destroy();
  }

  private send(url: URL, options: PostOptions): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const settle = (outcome: { error: Error } | { status: number; text: string }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome);
      };
      const fail = (error: Error): void => {
        settle({ error });
        request.destroy();
      };
      const method = options.method ?? 'POST';
      const body = Buffer.from(method === 'GET' ? '' : options.body, 'utf8');
      const send = this.secure ? httpsRequest : httpRequest;
      const request = send(url, {
        method,
        agent: this.agent,
        headers: {
          ...options.headers,
          'accept-encoding': 'gzip',
          ...(method === 'GET' ? {} : { 'content-length': String(body.length) }),
        },
        signal: options.signal,
      });
      request.once('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(
          () => fail(codedError(`connect timed out after ${this.connectTimeoutMs} ms`, 'ETIMEDOUT')),
          this.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      request.once('error', (error) => settle({ error }));
      request.once('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxResponseBytes) fail(options.tooLarge());
          else chunks.push(chunk);
        });
        response.once('error', (error) => settle({ error }));
        response.once('end', () => {
          const status = response.statusCode ?? 0;
          decodeBody(response.headers['content-encoding'], Buffer.concat(chunks), options).then(
            (text) => settle({ status, text }),
            (error: Error) => settle({ error }),
          );
        });
        response.once('close', () => {
          if (!response.complete)
            settle({ error: codedError('the connection closed before the end of the answer', 'ECONNRESET') });
        });
      });
      if (method === 'GET') request.end();
      else request.end(body);
    });
  }
}
