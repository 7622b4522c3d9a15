/**
 * The web panel at `/panel/` (docs/panel.md): server-rendered pages over the master's services.
 *
 * Who is calling: a session cookie (signed in with a user's API token in master mode, or the local
 * token of a proxy that has one), else whatever the API's authenticator makes of the request (an
 * open proxy's local caller, an API client's bearer token, a user certificate). A page asked for by
 * nobody redirects to the sign-in form. Every POST must come from this panel (same origin) and carry
 * the page's CSRF token. Pages read through the services only, and forms call the API's use cases.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Authenticator } from '../http/authentication.ts';
import { readUnparsedBody } from '../http/authenticate-requests.ts';
import { toHttpError } from '../http/errors.ts';
import type { FailureLimiter } from '../http/failure-limiter.ts';
import { decodeBody, readBody } from '../http/request-body.ts';
import { decodeUrlEncoded } from '../http/url-encoded.ts';
import type { Caller, MasterServices } from '../services/index.ts';
import { html, type Html } from './html.ts';
import { renderLayout, type LayoutContext } from './layout.ts';
import { LiveEvents } from './live-events.ts';
import {
  checkCsrfToken,
  checkSameOrigin,
  CSRF_FIELD,
  csrfToken,
  PAGE_HEADERS,
  sessionSecretOf,
} from './panel-security.ts';
import { PanelForm, page, type PanelAnswer, type PanelHandler, type PanelRoutes } from './panel-routes.ts';
import { PAGE_MODULES } from './pages/index.ts';
import { registerSignIn } from './sign-in.ts';
import { StaticAssets } from './static-assets.ts';

export interface PanelOptions {
  services: MasterServices;
  mode: 'proxy' | 'master';
  /** The API's authenticator: the sign-in form checks a token with it, and requests without a session use it. */
  authenticator: Authenticator;
  /** Master mode: failed sign-ins are slowed down per address, as failed API authentications are. */
  failureLimiter?: FailureLimiter | undefined;
  logger: Logger;
  scheme: 'http' | 'https';
}

/** Who a request is, for the panel, and what its CSRF token derives from. */
export interface PanelIdentity {
  caller: Exclude<Caller, { kind: 'anonymous' }>;
  /** Signed in with a session cookie (a sign-out button makes sense). */
  session: string | undefined;
  csrfToken: string;
}

/** Paths the root authentication hook leaves to the panel. */
export function isPanelPath(url: string): boolean {
  return url === '/panel' || url.startsWith('/panel/') || url.startsWith('/panel?');
}

function queryOf(url: string): URLSearchParams {
  const mark = url.indexOf('?');
  if (mark < 0) return new URLSearchParams();
  return new URLSearchParams(decodeUrlEncoded(url.slice(mark + 1), 'query string'));
}

export function registerPanel(fastify: FastifyInstance, options: PanelOptions): void {
  const { services, mode, authenticator, logger, scheme } = options;
  const assets = StaticAssets.load();
  const live = new LiveEvents(services);
  // The CSRF basis of callers with neither a session nor an Authorization header (an open proxy).
  const processSecret = randomBytes(32).toString('base64url');

  const identify = async (request: FastifyRequest): Promise<PanelIdentity | undefined> => {
    const session = sessionSecretOf(request.headers);
    if (session !== undefined) {
      const caller = await services.panelSessionCaller({ secret: session });
      if (caller !== undefined && caller.kind !== 'anonymous')
        return { caller, session, csrfToken: csrfToken(session) };
    }
    const authentication = await authenticator.authenticate({
      headers: request.headers,
      socket: request.raw.socket,
      ip: request.ip,
    });
    if (authentication.refusal !== undefined) return undefined;
    const basis = request.headers.authorization ?? processSecret;
    return { caller: authentication.caller, session: undefined, csrfToken: csrfToken(basis) };
  };

  const layoutContext = (identity: PanelIdentity | undefined): LayoutContext => ({
    caller: identity?.caller,
    mode,
    signedIn: identity?.session !== undefined,
    csrfField: () => csrfField(identity?.csrfToken ?? ''),
    assets,
  });

  const send = (
    reply: FastifyReply,
    answer: PanelAnswer,
    identity: PanelIdentity | undefined,
  ): FastifyReply => {
    if (answer.kind === 'redirect') return reply.code(303).header('location', answer.location).send();
    if (answer.kind === 'file')
      return reply
        .code(200)
        .headers(PAGE_HEADERS)
        .header('content-type', answer.contentType)
        .header('content-disposition', `inline; filename="${answer.fileName}"`)
        .send(answer.body);
    return reply
      .code(answer.status ?? 200)
      .headers(PAGE_HEADERS)
      .header('content-type', 'text/html; charset=utf-8')
      .send(renderLayout(answer, layoutContext(identity)).markup);
  };

  void fastify.register(
    (panel, _options, done) => {
      panel.removeAllContentTypeParsers();
      panel.addContentTypeParser(
        'application/x-www-form-urlencoded',
        async (request: FastifyRequest, payload: Readable) => {
          const bytes = await readBody(payload, { contentLength: request.headers['content-length'] });
          return new PanelForm(decodeUrlEncoded(decodeBody(bytes), 'form'));
        },
      );
      panel.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
        await readBody(payload, { contentLength: request.headers['content-length'] });
        throw new SlapError(
          'SLAP_ERR_INVALID_INPUT',
          'The panel accepts forms only (application/x-www-form-urlencoded).',
        );
      });

      panel.setErrorHandler(async (error, request, reply) => {
        const failure = toHttpError(error);
        if (failure.internal)
          logger.error({ err: error, url: request.url.slice(0, 200) }, 'panel request failed');
        const identity = await identify(request).catch(() => undefined);
        const body = html`<p class="error-message" role="alert">${failure.body.title}</p>
          <p><a href="/panel/services">Back to the services</a></p>`;
        return send(reply, page(failure.body.type, 'error', body, failure.status), identity);
      });
      panel.setNotFoundHandler(async (request, reply) => {
        await readUnparsedBody(request);
        const identity = await identify(request);
        const body = html`<p role="alert">There is no such page in this panel.</p>
          <p><a href="/panel/services">Back to the services</a></p>`;
        return send(reply, page('Not found', 'error', body, 404), identity);
      });

      panel.get('/static/:name', async (request, reply) => {
        await readUnparsedBody(request);
        const asset = assets.get((request.params as { name: string }).name);
        if (!asset) throw new SlapError('SLAP_ERR_NOT_FOUND', 'No such file.');
        return reply
          .header('content-type', asset.contentType)
          .header('cache-control', 'public, max-age=31536000, immutable')
          .header('x-content-type-options', 'nosniff')
          .send(asset.body);
      });

      const route = (method: 'GET' | 'POST', path: string, handler: PanelHandler): void => {
        panel.route({
          method,
          url: path,
          handler: async (request, reply) => {
            if (method === 'GET') await readUnparsedBody(request);
            const identity = await identify(request);
            if (identity === undefined) {
              if (method === 'GET')
                return reply
                  .code(303)
                  .header('location', `/panel/sign-in?next=${encodeURIComponent(request.url)}`)
                  .send();
              throw new SlapError('SLAP_ERR_UNAUTHENTICATED', 'Sign in first.');
            }
            let form = PanelForm.empty();
            if (method === 'POST') {
              checkSameOrigin(request.headers, scheme);
              form = request.body instanceof PanelForm ? request.body : PanelForm.empty();
              checkCsrfToken(form.get(CSRF_FIELD), identity.csrfToken);
            }
            const answer = await handler({
              caller: identity.caller,
              services,
              mode,
              params: (request.params ?? {}) as Record<string, string>,
              query: queryOf(request.url),
              form,
              csrfField: () => csrfField(identity.csrfToken),
            });
            return send(reply, answer, identity);
          },
        });
      };
      const routes: PanelRoutes = {
        get: (path, handler) => route('GET', path, handler),
        post: (path, handler) => route('POST', path, handler),
      };

      routes.get('/', () => Promise.resolve({ kind: 'redirect', location: '/panel/services' }));
      panel.get('/events', async (request, reply) => {
        await readUnparsedBody(request);
        if ((await identify(request)) === undefined)
          throw new SlapError('SLAP_ERR_UNAUTHENTICATED', 'Sign in first.');
        live.open(reply);
      });
      registerSignIn(panel, { ...options, identify, send });
      for (const register of PAGE_MODULES) register(routes);
      done();
    },
    { prefix: '/panel' },
  );
  // Open pages' streams would hold the close for its whole grace period.
  fastify.addHook('preClose', (done) => {
    live.close();
    done();
  });
}

export function csrfField(token: string): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}" />`;
}
