/**
 * A panel client for tests: GETs and POSTs forms like a browser would (Origin, the page's CSRF
 * token, the session cookie), over HTTP or over HTTPS with a CA to trust (master mode).
 */
import { Agent, request, type Dispatcher } from 'undici';

export interface PanelResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The Location of a redirect. */
  location: string | undefined;
  html: string;
  /** The body's bytes (a download: a PDF). */
  bytes: Buffer;
}

export interface PanelPostOptions {
  /** The CSRF token to send: the one of the last page by default; false: none. */
  csrf?: string | false;
  /** The Origin header: this panel's by default; false: none. */
  origin?: string | false;
  headers?: Record<string, string>;
}

function isPairList(
  fields: Record<string, string> | readonly (readonly [string, string])[],
): fields is readonly (readonly [string, string])[] {
  return Array.isArray(fields);
}

export class PanelClient {
  private cookie: string | undefined;
  private lastCsrf: string | undefined;
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    readonly baseUrl: string,
    options: { ca?: string } = {},
  ) {
    this.dispatcher = options.ca === undefined ? undefined : new Agent({ connect: { ca: options.ca } });
  }

  get sessionCookie(): string | undefined {
    return this.cookie;
  }

  set sessionCookie(cookie: string | undefined) {
    this.cookie = cookie;
  }

  /** Signs in with a token; throws unless the panel opened a session. */
  async signIn(token: string): Promise<void> {
    const response = await this.post('/panel/sign-in', { token, next: '/panel/services' }, { csrf: false });
    if (response.status !== 303 || this.cookie === undefined)
      throw new Error(`sign-in refused: ${response.status}`);
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<PanelResponse> {
    return this.send('GET', path, undefined, headers);
  }

  /** POSTs a form (fields in order; a name may repeat). */
  async post(
    path: string,
    fields: Record<string, string> | readonly (readonly [string, string])[],
    options: PanelPostOptions = {},
  ): Promise<PanelResponse> {
    const pairs: [string, string][] = isPairList(fields)
      ? fields.map(([name, value]): [string, string] => [name, value])
      : Object.entries(fields);
    const csrf = options.csrf === undefined ? this.lastCsrf : options.csrf;
    if (csrf !== false && csrf !== undefined) pairs.push(['_csrf', csrf]);
    const body = new URLSearchParams(pairs).toString();
    const origin = options.origin === undefined ? new URL(this.baseUrl).origin : options.origin;
    return this.send('POST', path, body, {
      'content-type': 'application/x-www-form-urlencoded',
      ...(origin === false ? {} : { origin }),
      ...options.headers,
    });
  }

  async close(): Promise<void> {
    await this.dispatcher?.close();
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<PanelResponse> {
    const response = await request(`${this.baseUrl}${path}`, {
      method,
      body: body ?? null,
      headers: { ...(this.cookie === undefined ? {} : { cookie: this.cookie }), ...headers },
      ...(this.dispatcher === undefined ? {} : { dispatcher: this.dispatcher }),
      signal: AbortSignal.timeout(30_000),
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const html = bytes.toString('utf8');
    const setCookie = response.headers['set-cookie'];
    for (const cookie of Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie]) {
      const [pair] = cookie.split(';');
      if (pair?.startsWith('slapos_session=')) this.cookie = pair === 'slapos_session=' ? undefined : pair;
    }
    const csrf = /name="_csrf" value="([^"]*)"/.exec(html)?.[1];
    if (csrf !== undefined) this.lastCsrf = csrf;
    const location = response.headers.location;
    return {
      status: response.statusCode,
      headers: response.headers,
      location: typeof location === 'string' ? location : undefined,
      html,
      bytes,
    };
  }
}

/** The text of an HTML fragment, tags dropped and the five escapes decoded (for assertions). */
export function textOf(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(
      /&(lt|gt|quot|#39|amp);/g,
      (_, name: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[name] ?? '',
    )
    .replace(/\s+/g, ' ')
    .trim();
}
