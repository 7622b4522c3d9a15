/**
 * Signing in and out. The form takes a token (a user's API token in master mode, the local token of
 * a proxy started with one) and checks it with the API's own authenticator, so the panel accepts
 * exactly the tokens the API accepts. A good token opens a session (panel-sessions.ts) held by an
 * HttpOnly, SameSite=Strict cookie; a bad one is answered 401, audited and slowed down like the API's
 * failed authentications. The token itself is never stored, logged or shown.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SlapError } from '../../core/errors.ts';
import { readUnparsedBody } from '../http/authenticate-requests.ts';
import { audit } from '../services/audit.ts';
import { PANEL_SESSION_SECONDS } from '../services/panel-sessions.ts';
import { html } from './html.ts';
import type { PanelIdentity, PanelOptions } from './panel-plugin.ts';
import {
  checkCsrfToken,
  checkSameOrigin,
  CSRF_FIELD,
  clearedSessionCookie,
  safeNextPath,
  sessionCookie,
} from './panel-security.ts';
import { PanelForm, page, type PanelAnswer } from './panel-routes.ts';

interface SignInEnvironment extends PanelOptions {
  identify: (request: FastifyRequest) => Promise<PanelIdentity | undefined>;
  send: (reply: FastifyReply, answer: PanelAnswer, identity: PanelIdentity | undefined) => FastifyReply;
}

const TOKEN = /^[\x21-\x7e]{1,512}$/;

function signInPage(next: string, problem?: string): PanelAnswer {
  const body = html`${problem === undefined ? '' : html`<p class="error-message" role="alert" id="sign-in-problem">${problem}</p>`}
    <form method="post" action="/panel/sign-in" class="sign-in">
      <input type="hidden" name="next" value="${next}" />
      <div class="field">
        <label for="token">Access token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          ${problem === undefined ? '' : html`aria-describedby="sign-in-problem" aria-invalid="true"`}
        />
        <p class="field-help">
          Your API token (printed by <code>slapos master user add</code> or
          <code>slapos master user token</code>), or the local token of a standalone (its
          <code>token_file</code>: <code>slapos standalone status --json</code>).
        </p>
      </div>
      <button type="submit">Sign in</button>
    </form>`;
  return page('Sign in', 'sign-in', body, problem === undefined ? 200 : 401);
}

export function registerSignIn(panel: FastifyInstance, environment: SignInEnvironment): void {
  const { services, authenticator, failureLimiter, logger, scheme, identify, send } = environment;
  const secure = scheme === 'https';

  panel.get('/sign-in', async (request, reply) => {
    await readUnparsedBody(request);
    const next = safeNextPath(new URL(request.url, 'http://panel').searchParams.get('next'));
    const identity = await identify(request);
    if (identity !== undefined) return send(reply, { kind: 'redirect', location: next }, identity);
    return send(reply, signInPage(next), undefined);
  });

  panel.post('/sign-in', async (request, reply) => {
    checkSameOrigin(request.headers, scheme);
    const form = request.body instanceof PanelForm ? request.body : PanelForm.empty();
    const next = safeNextPath(form.get('next'));
    const token = form.get('token') ?? '';
    const authentication = TOKEN.test(token)
      ? await authenticator.authenticate({
          headers: { authorization: `Bearer ${token}` },
          socket: request.raw.socket,
          ip: request.ip,
        })
      : undefined;
    const caller = authentication?.caller;
    if (caller === undefined || (caller.kind !== 'user' && caller.kind !== 'local')) {
      if (failureLimiter) {
        audit(logger, 'authentication.failed', {
          address: request.ip,
          path: '/panel/sign-in',
          reason: 'panel sign-in refused',
        });
        const delay = failureLimiter.fail(request.ip);
        if (delay > 0) await sleep(delay);
      }
      return send(reply, signInPage(next, 'This token is not valid for this master.'), undefined);
    }
    const session = await services.openPanelSession({ caller });
    if (caller.kind === 'user')
      audit(logger, 'panel.signed_in', { user: caller.userId, address: request.ip });
    reply.header(
      'set-cookie',
      sessionCookie(session.secret, { maxAgeSeconds: PANEL_SESSION_SECONDS, secure }),
    );
    return send(reply, { kind: 'redirect', location: next }, undefined);
  });

  panel.post('/sign-out', async (request, reply) => {
    checkSameOrigin(request.headers, scheme);
    const identity = await identify(request);
    if (identity === undefined) throw new SlapError('SLAP_ERR_UNAUTHENTICATED', 'Sign in first.');
    const form = request.body instanceof PanelForm ? request.body : PanelForm.empty();
    checkCsrfToken(form.get(CSRF_FIELD), identity.csrfToken);
    if (identity.session !== undefined) await services.closePanelSession({ secret: identity.session });
    reply.header('set-cookie', clearedSessionCookie(secure));
    return send(reply, { kind: 'redirect', location: '/panel/sign-in' }, undefined);
  });
}
