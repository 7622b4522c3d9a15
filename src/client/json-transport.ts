/**
 * The JSON API v0 transport: POST `<master>/<path>` with a JSON body over one keep-alive agent of
 * node:http(s) (optional mTLS), a deadline on every call, a cap on the answer's size, and every
 * failure turned into a SlapError (see master-errors.ts). node:http rather than undici: a one-shot
 * `slapos` command would spend more time and memory loading undici than talking to the master.
 */
import type { ApiPath } from '../api/index.ts';
import { apiResponseValidator } from '../api/response-validators.ts';
import { SlapError } from '../core/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { apiError, undecodableAnswerError, unreachableError } from './master-errors.ts';
import { HttpPoster, type HttpPosterOptions } from './http-post.ts';
import type { WireRequest, WireResponse } from './types.ts';

export interface TlsMaterial {
  /** PEM of the certificate authorities to trust for the master (default: the system's). */
  ca?: string | Buffer;
  /** PEM client certificate and key (mutual TLS, master mode). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface JsonTransportOptions {
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
  /** Check answers against the API's response schemas (default true). */
  validateResponses?: boolean;
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

export class JsonTransport {
  readonly masterUrl: string;
  private readonly base: URL;
  private poster: HttpPoster;
  private readonly posterOptions: Omit<HttpPosterOptions, 'tls'>;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly validateResponses: boolean;
  private readonly logger: Logger | undefined;
  private readonly authorization: Readonly<Record<string, string>>;
  private closing: Promise<void> | undefined;

  constructor(options: JsonTransportOptions) {
    const url = parseMasterUrl(options.masterUrl);
    this.masterUrl = url.href.replace(/\/+$/, '');
    this.base = new URL(`${this.masterUrl}/`);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.logger = options.logger;
    this.validateResponses = options.validateResponses !== false;
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

  /** POSTs `body` to the API path and returns the validated answer. */
  async post<P extends ApiPath>(
    path: P,
    body: WireRequest<P>,
    options: CallOptions = {},
  ): Promise<WireResponse<P>> {
    if (this.closing) throw new SlapError('SLAP_ERR_INTERNAL', 'the master client is closed');
    if (options.signal?.aborted) throw options.signal.reason;
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
    const url = new URL(path.slice(1), this.base);
    const started = performance.now();
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.poster.post(url, {
        signal: controller.signal,
        headers: {
          ...options.headers,
          ...this.authorization,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        maxResponseBytes: this.maxResponseBytes,
        tooLarge: () =>
          new SlapError(
            'SLAP_ERR_UNAVAILABLE',
            `the master at ${this.masterUrl} answered ${path} with more than ${this.maxResponseBytes} bytes`,
            { details: { masterUrl: this.masterUrl, path } },
          ),
        undecodable: (reason) => undecodableAnswerError(this.masterUrl, path, reason),
      }));
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
    this.logger?.debug({ path, status, ms: Math.round(performance.now() - started) }, 'master call');
    return this.decode(path, status, text);
  }

  /** Closes the connections once the calls in progress are answered. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.poster.close();
    return this.closing;
  }

  private decode<P extends ApiPath>(path: P, status: number, text: string): WireResponse<P> {
    const details = { masterUrl: this.masterUrl, path, status };
    const parsed = parseJson(text);
    if (status !== 200) {
      if (status >= 400) {
        const title = isApiErrorBody(parsed) ? parsed.value.title : undefined;
        throw apiError({
          masterUrl: this.masterUrl,
          path,
          status,
          ...(title === undefined ? {} : { title }),
        });
      }
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `the master at ${this.masterUrl} answered ${path} with the unexpected HTTP status ${status}`,
        { details, hint: `check that ${this.masterUrl} is the URL of a SlapOS master with the JSON API` },
      );
    }
    if (!parsed.ok) {
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `the master at ${this.masterUrl} answered ${path} with something that is not JSON: ${excerpt(text)}`,
        { details, hint: `check that ${this.masterUrl} is the URL of a SlapOS master with the JSON API` },
      );
    }
    const validate = this.validateResponses ? apiResponseValidator(path) : undefined;
    if (validate && !validate(parsed.value)) {
      const problems = (validate.errors ?? [])
        .map((error) => `answer${error.instancePath} ${error.message ?? 'is invalid'}`)
        .join('; ');
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `the master at ${this.masterUrl} answered ${path} with a body that does not follow the JSON API: ${problems}`,
        { details: { ...details, problems } },
      );
    }
    return parsed.value as WireResponse<P>;
  }
}

type Parsed = { ok: true; value: unknown } | { ok: false };

function parseJson(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function isApiErrorBody(parsed: Parsed): parsed is { ok: true; value: { title: string } } {
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return false;
  const body = parsed.value as Record<string, unknown>;
  return typeof body.title === 'string' && typeof body.status === 'number';
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(an empty body)';
  return JSON.stringify(flat.length > 120 ? `${flat.slice(0, 120)}…` : flat);
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
