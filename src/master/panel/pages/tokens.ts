/**
 * Master mode's registration tokens page (`/panel/tokens`): the caller's tokens (created, expires,
 * used), a form creating one — the token is shown once, on the page answering that form, and
 * never again — revocation, and the caller's compute nodes. Proxy mode has no tokens: 404.
 */
import { SlapError } from '../../../core/errors.ts';
import { REGISTRATION_TOKEN_DEFAULT_S, REGISTRATION_TOKEN_MAX_S } from '../../services/node-registration.ts';
import type { RegistrationTokenItem } from '../../services/index.ts';
import { html, textBlock, type Html } from '../html.ts';
import {
  page,
  pathSegment,
  redirect,
  type PanelAnswer,
  type PanelRequest,
  type PanelRoutes,
} from '../panel-routes.ts';
import { timeElement } from '../time-element.ts';

/** The lifetimes the form offers (seconds), each within the use case's bounds. */
const LIFETIMES: readonly { seconds: number; label: string }[] = [
  { seconds: REGISTRATION_TOKEN_DEFAULT_S, label: '1 hour' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 7 * 86_400, label: '7 days' },
  { seconds: REGISTRATION_TOKEN_MAX_S, label: '30 days' },
];

export function register(routes: PanelRoutes): void {
  routes.get('/tokens', (request) => tokensPage(request));
  routes.post('/tokens', createToken);
  routes.post('/tokens/revoke', revokeToken);
}

function requireMasterMode(request: PanelRequest): void {
  if (request.mode !== 'master') throw new SlapError('SLAP_ERR_NOT_FOUND', 'This page does not exist.');
}

async function tokensPage(
  request: PanelRequest,
  created?: { token: string; expiresAt: number },
): Promise<PanelAnswer> {
  requireMasterMode(request);
  const { caller, services } = request;
  const tokens = await services.listRegistrationTokens({ caller });
  const user = caller.kind === 'user' ? caller.userId : undefined;
  const nodes = (await services.listComputeNodeViews({ caller })).filter(
    (node) => node.access?.owner === user,
  );
  const now = services.context.clock.now();
  const body = html` ${created ? createdNotice(created) : ''}
    <section aria-labelledby="create-heading">
      <h2 id="create-heading">Register a compute node</h2>
      <form method="post" action="/panel/tokens">
        ${request.csrfField()}
        <div class="field">
          <label for="expires-in">Valid for</label>
          <select id="expires-in" name="expires_in_s" aria-describedby="expires-in-help">
            ${LIFETIMES.map((lifetime) => html`<option value="${lifetime.seconds}">${lifetime.label}</option>`)}
          </select>
          <p id="expires-in-help" class="field-help">
            A token registers one compute node (<code>slapos node register --token …</code>) before it
            expires.
          </p>
        </div>
        <div class="actions"><button type="submit">Create a registration token</button></div>
      </form>
    </section>
    <section id="tokens" data-live aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">Registration tokens</h2>
      ${tokens.length === 0 ? html`<p class="muted">No registration tokens.</p>` : tokenTable(request, tokens, now)}
    </section>
    <section id="my-nodes" data-live aria-labelledby="my-nodes-heading">
      <h2 id="my-nodes-heading">Your compute nodes</h2>
      ${
        nodes.length === 0
          ? html`<p class="muted">No compute nodes registered yet.</p>`
          : html`<ul>
              ${nodes.map(
                (node) =>
                  html`<li>
                    <a href="/panel/nodes/${pathSegment(node.reference)}">${node.reference}</a>
                    ${node.title === null ? '' : html`<span class="muted">${node.title}</span>`}
                  </li>`,
              )}
            </ul>`
      }
    </section>`;
  return page('Registration tokens', 'tokens', body);
}

function createdNotice(created: { token: string; expiresAt: number }): Html {
  return html`<section class="notice" role="status" aria-labelledby="new-token-heading">
    <h2 id="new-token-heading">New registration token</h2>
    <p>Copy it now: it is shown only this once. It expires at ${timeElement(created.expiresAt)}.</p>
    ${textBlock(created.token, { id: 'new-token' })}
  </section>`;
}

function tokenState(token: RegistrationTokenItem, now: number): Html {
  if (token.usedAt !== null) return html`used at ${timeElement(token.usedAt)}`;
  if (token.expiresAt <= now) return html`<span class="muted">expired</span>`;
  return html`unused`;
}

function tokenTable(request: PanelRequest, tokens: readonly RegistrationTokenItem[], now: number): Html {
  return html`<div class="table-scroll">
    <table>
      <thead>
        <tr>
          <th scope="col">Created</th>
          <th scope="col">Expires</th>
          <th scope="col">State</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${tokens.map(
          (token) =>
            html`<tr>
              <td>${timeElement(token.createdAt)}</td>
              <td>${timeElement(token.expiresAt)}</td>
              <td>${tokenState(token, now)}</td>
              <td>
                ${
                  token.usedAt === null
                    ? html`<form
                        method="post"
                        action="/panel/tokens/revoke"
                        class="inline"
                        data-confirm="Revoke this registration token? It will no longer register a node."
                      >
                        ${request.csrfField()}
                        <input type="hidden" name="id" value="${token.id}" />
                        <button type="submit" class="danger">Revoke</button>
                      </form>`
                    : ''
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

async function createToken(request: PanelRequest): Promise<PanelAnswer> {
  requireMasterMode(request);
  const lifetime = request.form.get('expires_in_s') ?? '';
  if (!/^[0-9]{1,9}$/.test(lifetime))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'Choose how long the token is valid.');
  const created = await request.services.createRegistrationToken({
    caller: request.caller,
    expiresInSeconds: Number(lifetime),
  });
  // Answered directly (not redirected): the token is in this answer only.
  return tokensPage(request, created);
}

async function revokeToken(request: PanelRequest): Promise<PanelAnswer> {
  requireMasterMode(request);
  await request.services.revokeRegistrationToken({
    caller: request.caller,
    id: request.form.get('id') ?? '',
  });
  return redirect('/panel/tokens');
}
