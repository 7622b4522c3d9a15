/**
 * The JSON API v0 transport: POST `<master>/<path>` with a JSON body over the master's HTTP endpoint
 * (master-http.ts: keep-alive pool, deadlines, size cap, connection errors), answers validated
 * against the API's schemas and HTTP errors turned into SlapErrors (see master-errors.ts).
 * node:http rather than undici: a one-shot `slapos` command would spend more time and memory loading
 * undici than talking to the master.
 */
import type { ApiPath } from '../api/index.ts';
import { apiResponseValidator } from '../api/response-validators.ts';
import { SlapError } from '../core/errors.ts';
import { apiError } from './master-errors.ts';
import { MasterHttp, type CallOptions, type MasterHttpOptions, type TlsMaterial } from './master-http.ts';
import type { WireRequest, WireResponse } from './types.ts';

export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  parseMasterUrl,
  type CallOptions,
  type TlsMaterial,
} from './master-http.ts';

export interface JsonTransportOptions extends MasterHttpOptions {
  /** Check answers against the API's response schemas (default true). */
  validateResponses?: boolean;
}

export class JsonTransport {
  private readonly validateResponses: boolean;

  /** `http`: the endpoint to share (the auto client's probe hands it on); by default its own. */
  constructor(
    options: JsonTransportOptions,
    readonly http: MasterHttp = new MasterHttp(options),
  ) {
    this.validateResponses = options.validateResponses !== false;
  }

  get masterUrl(): string {
    return this.http.masterUrl;
  }

  replaceTls(tls: TlsMaterial): void {
    this.http.replaceTls(tls);
  }

  /** POSTs `body` to the API path and returns the validated answer. */
  async post<P extends ApiPath>(
    path: P,
    body: WireRequest<P>,
    options: CallOptions = {},
  ): Promise<WireResponse<P>> {
    const { status, text } = await this.http.call(
      {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      },
      options,
    );
    return this.decode(path, status, text);
  }

  /** Closes the connections once the calls in progress are answered. Idempotent. */
  close(): Promise<void> {
    return this.http.close();
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
