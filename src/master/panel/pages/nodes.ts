/**
 * The compute node pages: the nodes the caller may see (`/panel/nodes`) and one node
 * (`/panel/nodes/:reference`) with its last contact, partitions, software installations with the end
 * of their build log, and (master mode) who may deploy there, with the form changing it (the same
 * use case as the API's compute node update).
 */
import { ALLOCATION_SCOPES, isAllocationScope } from '../../../core/allocation-scope.ts';
import { SlapError } from '../../../core/errors.ts';
import { SILENT_AFTER_POLLS } from '../../services/compute-node-views.ts';
import type { ComputeNodeSummary, ComputeNodeView } from '../../services/index.ts';
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
import { readLastDayUsage, usageSection } from '../usage-section.ts';

/** How much of a build log the node page shows: its last lines. */
export const LOG_TAIL_LINES = 40;

export function register(routes: PanelRoutes): void {
  routes.get('/nodes', nodeList);
  routes.get('/nodes/:reference', (request) => asPageNotFound(nodePage(request)));
  routes.post('/nodes/:reference/access', (request) => asPageNotFound(updateAccess(request)));
}

/**
 * The API answers an unknown compute node (and one the caller may not see: the same answer) with
 * slapproxy's 403; for a page, that is a 404, with the same message.
 */
async function asPageNotFound(answer: Promise<PanelAnswer>): Promise<PanelAnswer> {
  try {
    return await answer;
  } catch (error) {
    if (error instanceof SlapError && error.code === 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND')
      throw new SlapError('SLAP_ERR_NOT_FOUND', error.message, { cause: error });
    throw error;
  }
}

async function nodeList({ caller, services, mode }: PanelRequest): Promise<PanelAnswer> {
  const nodes = await services.listComputeNodeViews({ caller });
  const body = html`<section id="nodes" data-live aria-live="polite">
    ${
      nodes.length === 0
        ? html`<p>
            No compute nodes yet.${mode === 'master' ? html` <a href="/panel/tokens">Register one</a>.` : ''}
          </p>`
        : html`<div class="table-scroll">
            <table>
              <caption class="muted">
                ${nodes.length} compute nodes
              </caption>
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">Last contact</th>
                  <th scope="col">Partitions busy / total</th>
                  <th scope="col">Software installations</th>
                  ${mode === 'master' ? html`<th scope="col">Scope</th>` : ''}
                </tr>
              </thead>
              <tbody>
                ${nodes.map((node) => nodeRow(node, mode))}
              </tbody>
            </table>
          </div>`
    }
  </section>`;
  const silentAfter = SILENT_AFTER_POLLS * services.context.nodePollIntervalSeconds;
  return page(
    'Compute nodes',
    'nodes',
    html`${body}
      <p class="field-help">
        A node is flagged silent when it has not called the master for ${silentAfter} seconds
        (${SILENT_AFTER_POLLS} poll intervals).
      </p>`,
  );
}

function nodeRow(node: ComputeNodeSummary, mode: 'proxy' | 'master'): Html {
  return html`<tr>
    <td>
      <a href="/panel/nodes/${pathSegment(node.reference)}">${node.reference}</a>
      ${node.title !== null && node.title !== node.reference ? html`<span class="muted">${node.title}</span>` : ''}
    </td>
    <td>${contactCell(node)}</td>
    <td>${node.partitions.busy} / ${node.partitions.total}</td>
    <td>${node.softwareInstallations}</td>
    ${mode === 'master' ? html`<td>${node.access?.allocationScope ?? ''}</td>` : ''}
  </tr>`;
}

function contactCell(node: ComputeNodeSummary): Html {
  const { lastContactAt, silent } = node.contact;
  const when = lastContactAt === null ? html`never` : timeElement(lastContactAt);
  return silent ? html`${when} <span class="badge badge-silent">silent</span>` : when;
}

/** What a refused access form shows back: the values posted and the error. */
interface AccessFormState {
  allocationScope: string;
  friends: string;
  error: string;
}

async function nodePage(request: PanelRequest, refused?: AccessFormState): Promise<PanelAnswer> {
  const { caller, services, mode, params } = request;
  const computeNodeId = params.reference ?? '';
  const node = await services.readComputeNodeView({ caller, computeNodeId });
  const software = await services.listSoftwareInstallationStatuses({ caller, computeNodeId });
  const usage = await readLastDayUsage(services, caller, { computeNodeId });
  const body = html` <section id="node-summary" data-live aria-labelledby="node-summary-heading">
      <h2 id="node-summary-heading">Summary</h2>
      <dl class="properties">
        <dt>Reference</dt>
        <dd><code>${node.reference}</code></dd>
        <dt>Title</dt>
        <dd>${node.title ?? html`<span class="muted">none</span>`}</dd>
        <dt>Last contact</dt>
        <dd>${contactCell(node)}</dd>
        <dt>Partitions</dt>
        <dd>${node.partitions.busy} busy, ${node.partitions.total - node.partitions.busy} free</dd>
        ${
          node.access
            ? html`<dt>Owner</dt>
                <dd>${node.access.owner ?? html`<span class="muted">none</span>`}</dd>
                <dt>Allocation scope</dt>
                <dd>${node.access.allocationScope}</dd>
                <dt>Friends</dt>
                <dd>
                  ${node.access.friends.length === 0 ? html`<span class="muted">none</span>` : node.access.friends.join(', ')}
                </dd>`
            : ''
        }
      </dl>
    </section>
    ${mode === 'master' && node.access ? accessForm(request, node, refused) : ''}
    <section id="node-partitions" data-live aria-labelledby="node-partitions-heading">
      <h2 id="node-partitions-heading">Partitions</h2>
      ${partitionTable(node)}
    </section>
    <section id="node-software" data-live aria-labelledby="node-software-heading">
      <h2 id="node-software-heading">Software installations</h2>
      ${
        software.length === 0
          ? html`<p class="muted">No software release supplied to this node.</p>`
          : html`<div class="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Software release</th>
                    <th scope="col">Requested</th>
                    <th scope="col">Status</th>
                    <th scope="col">Last report</th>
                  </tr>
                </thead>
                <tbody>
                  ${software.map(
                    (item) =>
                      html`<tr>
                          <td><code>${item.url}</code></td>
                          <td>${item.state}</td>
                          <td><span class="badge badge-${item.status}">${item.status}</span></td>
                          <td>
                            ${item.reportedAt === null ? html`<span class="muted">never</span>` : timeElement(item.reportedAt)}
                          </td>
                        </tr>
                        ${item.errorMessage === null ? '' : logTailRow(item.errorMessage)}`,
                  )}
                </tbody>
              </table>
            </div>`
      }
    </section>
    ${usageSection('usage', 'Usage over the last day', usage)}`;
  return page(`Compute node ${node.reference}`, 'nodes', body, refused ? 400 : undefined);
}

function partitionTable(node: ComputeNodeView): Html {
  if (node.partitionList.length === 0) return html`<p class="muted">This node has no partitions yet.</p>`;
  return html`<div class="table-scroll">
    <table>
      <thead>
        <tr>
          <th scope="col">Partition</th>
          <th scope="col">State</th>
          <th scope="col">Instance</th>
        </tr>
      </thead>
      <tbody>
        ${node.partitionList.map(
          (partition) =>
            html`<tr>
              <td><code>${partition.reference}</code></td>
              <td>${partition.slapState}</td>
              <td>
                ${
                  partition.instance?.instanceTree != null
                    ? html`<a href="/panel/services/${pathSegment(partition.instance.instanceTree)}"
                        >${partition.instance.title}</a
                      >`
                    : partition.slapState === 'busy'
                      ? html`<span class="muted">busy</span>`
                      : ''
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The end of a build log (the node's error message): its last LOG_TAIL_LINES lines. */
export function logTail(message: string): { text: string; omittedLines: number } {
  const lines = message.split('\n');
  const omittedLines = Math.max(0, lines.length - LOG_TAIL_LINES);
  return { text: lines.slice(omittedLines).join('\n'), omittedLines };
}

function logTailRow(message: string): Html {
  const tail = logTail(message);
  return html`<tr>
    <td colspan="4">
      <p class="error-message">
        Build failed${tail.omittedLines > 0 ? html` (last ${LOG_TAIL_LINES} lines of the log)` : ''}:
      </p>
      ${textBlock(tail.text)}
    </td>
  </tr>`;
}

function accessForm(
  request: PanelRequest,
  node: ComputeNodeView,
  refused: AccessFormState | undefined,
): Html {
  const scope = refused?.allocationScope ?? node.access?.allocationScope ?? 'personal';
  const friends = refused?.friends ?? node.access?.friends.join('\n') ?? '';
  return html`<section aria-labelledby="node-access-heading">
    <h2 id="node-access-heading">Who may deploy here</h2>
    <form method="post" action="/panel/nodes/${pathSegment(node.reference)}/access">
      ${request.csrfField()} ${refused ? html`<p class="field-error" role="alert">${refused.error}</p>` : ''}
      <div class="field">
        <label for="allocation-scope">Allocation scope</label>
        <select id="allocation-scope" name="allocation_scope" aria-describedby="allocation-scope-help">
          ${ALLOCATION_SCOPES.map(
            (option) =>
              html`<option value="${option}" ${option === scope ? html`selected` : ''}>${option}</option>`,
          )}
        </select>
        <p id="allocation-scope-help" class="field-help">
          personal: only the owner; friend: the owner and the friends below; open: anyone; closed: nothing
          new.
        </p>
      </div>
      <div class="field">
        <label for="friends">Friends</label>
        <textarea id="friends" name="friends" rows="3" aria-describedby="friends-help">${friends}</textarea>
        <p id="friends-help" class="field-help">User names, one per line.</p>
      </div>
      <div class="actions"><button type="submit">Save</button></div>
    </form>
  </section>`;
}

/** The friends field: one user name a line (blank lines dropped); names are taken as they are. */
export function parseFriends(text: string): string[] {
  return text.split(/\r\n|\n|\r/).filter((line) => line.trim() !== '');
}

async function updateAccess(request: PanelRequest): Promise<PanelAnswer> {
  const { caller, services, params, form } = request;
  const computeNodeId = params.reference ?? '';
  const allocationScope = form.get('allocation_scope') ?? '';
  const friends = form.get('friends') ?? '';
  if (!isAllocationScope(allocationScope))
    return nodePage(request, { allocationScope, friends, error: 'Choose one of the allocation scopes.' });
  try {
    await services.updateComputeNodeAccess({
      caller,
      computeNodeId,
      allocationScope,
      friends: parseFriends(friends),
    });
  } catch (error) {
    // An unknown friend is the form's mistake; a node the caller may not change stays a 404 page.
    if (error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND')
      return nodePage(request, { allocationScope, friends, error: error.message });
    throw error;
  }
  return redirect(`/panel/nodes/${pathSegment(computeNodeId)}`);
}
