/**
 * One master's HTTP endpoint, shared by both transports (the JSON API and the legacy SLAP protocol):
 * one keep-alive pool of node:http(s) (optional mutual TLS), the access token, a deadline on every
 * call, the caller's AbortSignal, a cap on the answer's size, and every failure to get an answer
 * turned into a SlapError (master-errors.ts). The transports decode the answers.
 */
import { SlapError } from '../core/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { undecodableAnswerError, unreachableError } from './master-errors.ts';
import { HttpPoster, type HttpPosterOptions } from './http-post.ts';

export interface TlsMaterial {
  /** PEM of the certificate authorities to trust for the master (default: the system's). */
  ca?: string | Buffer;
  /** PEM client certificate and key (mutual TLS, master mode). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface MasterHttpOptions {
  /** `http://host:port` or `https://host[:port][/prefix]`. */
  masterUrl: string;
  /** Default deadline of one call, connection included (ms). */
  timeoutMs?: number;
  /** Deadline to establish a connection (ms). */
  connectTimeoutMs?: number;
  tls?: TlsMaterial;
  /** Sent as `Authorization: Bearer <accessToken>` on every call (a master with a local token). */
  accessToken?: string | undefined;
  /** Answers larger than this are refused (bytes). */
  maxResponseBytes?: number;
  logger?: Logger;
}

export interface CallOptions {
  /** Abort the call; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Deadline of this call (ms), instead of the client's default. */
  timeoutMs?: number;
  /** Extra request headers (our API extensions, e.g. the requester partition of a request). */
  headers?: Readonly<Record<string, string>>;
}

export interface MasterHttpRequest {
  method: 'GET' | 'POST';
  /** Relative to the master URL, with its leading slash: `/slapos.get.v0.hateoas_url`, `/getRunId`. */
  path: string;
  /** GET: the query string's fields. */
  query?: URLSearchParams;
  headers: Readonly<Record<string, string>>;
  /** POST: the body. */
  body?: string;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Validates and normalises a master URL (no trailing slash). */
export function parseMasterUrl(masterUrl: string): URL {
  let url: URL;
  try {
    url = new URL(masterUrl);
  } catch {
    throw new SlapError('SLAP_ERR_CONFIG', `invalid master URL: ${JSON.stringify(masterUrl)}`, {
      hint: 'give the master URL as http://HOST:PORT or https://HOST[:PORT][/PATH]',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `invalid master URL ${masterUrl}: only http and https are supported`,
      {
        hint: 'give the master URL as http://HOST:PORT or https://HOST[:PORT][/PATH]',
      },
    );
  }
  if (url.search || url.hash) {
    throw new SlapError('SLAP_ERR_CONFIG', `invalid master URL ${masterUrl}: no query or fragment allowed`);
  }
  return url;
}

export class MasterHttp {
  readonly masterUrl: string;
  readonly logger: Logger | undefined;
  private readonly base: URL;
  private poster: HttpPoster;
  private readonly posterOptions: Omit<HttpPosterOptions, 'tls'>;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly authorization: Readonly<Record<string, string>>;
  private closing: Promise<void> | undefined;

  constructor(options: MasterHttpOptions) {
    const url = parseMasterUrl(options.masterUrl);
    this.masterUrl = url.href.replace(/\/+$/, '');
    this.base = new URL(`${this.masterUrl}/`);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.logger = options.logger;
    this.authorization =
      options.accessToken === undefined ? {} : { authorization: `Bearer ${options.accessToken}` };
    this.posterOptions = {
      secure: url.protocol === 'https:',
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      keepAliveMs: 30_000,
    };
    this.poster = new HttpPoster({ ...this.posterOptions, ...(options.tls ? { tls: options.tls } : {}) });
  }

  /**
   * Uses this TLS material for the next calls (a renewed client certificate): calls in progress end
   * on the old connections, which are then closed.
   */
  replaceTls(tls: TlsMaterial): void {
    if (this.closing) throw new SlapError('SLAP_ERR_INTERNAL', 'the master client is closed');
    const previous = this.poster;
    this.poster = new HttpPoster({ ...this.posterOptions, tls });
    void previous.close();
  }

  /** Sends one request and returns the answer's status and text, whatever the status. */
  async call(
    request: MasterHttpRequest,
    options: CallOptions = {},
  ): Promise<{ status: number; text: string }> {
    if (this.closing) throw new SlapError('SLAP_ERR_INTERNAL', 'the master client is closed');
    if (options.signal?.aborted) throw options.signal.reason;
    const { path } = request;
    const url = new URL(path.slice(1), this.base);
    // A path from an answer (a HATEOAS link) never leads to another server.
    if (
      !path.startsWith('/') ||
      url.origin !== this.base.origin ||
      !url.pathname.startsWith(this.base.pathname)
    )
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `refusing to call ${JSON.stringify(path.slice(0, 200))}: not a path of the master at ${this.masterUrl}`,
      );
    if (request.query !== undefined) url.search = request.query.toString();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    // One controller for both the deadline and the caller's signal, released when the call ends
    // (AbortSignal.any would keep a reference per call on a long-lived caller signal).
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onCallerAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const started = performance.now();
    let answer: { status: number; text: string };
    try {
      answer = await this.poster.post(url, {
        method: request.method,
        signal: controller.signal,
        headers: { ...options.headers, ...this.authorization, ...request.headers },
        body: request.body ?? '',
        maxResponseBytes: this.maxResponseBytes,
        tooLarge: () =>
          new SlapError(
            'SLAP_ERR_UNAVAILABLE',
            `the master at ${this.masterUrl} answered ${path} with more than ${this.maxResponseBytes} bytes`,
            { details: { masterUrl: this.masterUrl, path } },
          ),
        undecodable: (reason) => undecodableAnswerError(this.masterUrl, path, reason),
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timedOut) {
        throw new SlapError(
          'SLAP_ERR_TIMEOUT',
          `the master at ${this.masterUrl} did not answer ${path} within ${formatSeconds(timeoutMs)}`,
          { cause: error, details: { masterUrl: this.masterUrl, path, timeoutMs } },
        );
      }
      if (error instanceof SlapError) throw error;
      throw unreachableError(error, this.masterUrl, path);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCallerAbort);
    }
    this.logger?.debug(
      { path, status: answer.status, ms: Math.round(performance.now() - started) },
      'master call',
    );
    return answer;
  }

  /** Closes the connections once the calls in progress are answered. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.poster.close();
    return this.closing;
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
