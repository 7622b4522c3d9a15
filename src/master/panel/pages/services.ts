/**
 * The services page: the caller's instance trees, one row each with its status, searchable by title
 * and filtered by status, node and software release (a GET form: it works without JavaScript),
 * a page of PAGE_SIZE rows at a time.
 */
import { SlapError } from '../../../core/errors.ts';
import { INSTANCE_HEALTHS, type InstanceHealth } from '../../../core/instance-status.ts';
import type { InstanceTreeSummary } from '../../services/index.ts';
import { html, type Html } from '../html.ts';
import { page, pathSegment, type PanelRoutes } from '../panel-routes.ts';
import { healthLabel, statusBadge } from '../service-fragments.ts';
import { timeElement } from '../time-element.ts';

export const PAGE_SIZE = 50;

export interface ServiceFilters {
  /** Title contains (case-insensitive); '' for any. */
  search: string;
  status: InstanceHealth | '';
  node: string;
  softwareRelease: string;
  /** 1-based. */
  page: number;
}

function isHealth(value: string): value is InstanceHealth {
  return (INSTANCE_HEALTHS as readonly string[]).includes(value);
}

/** The filters of the query string; a status or page that cannot be is a 400. */
export function filtersOf(query: URLSearchParams): ServiceFilters {
  const status = query.get('status') ?? '';
  if (status !== '' && !isHealth(status))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `There is no status ${status.slice(0, 100)}.`);
  const pageText = query.get('page') ?? '1';
  if (!/^[1-9]\d{0,8}$/.test(pageText))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'The page must be a positive whole number.');
  return {
    search: query.get('q') ?? '',
    status,
    node: query.get('node') ?? '',
    softwareRelease: query.get('release') ?? '',
    page: Number(pageText),
  };
}

export function matches(tree: InstanceTreeSummary, filters: ServiceFilters): boolean {
  return (
    (filters.search === '' || tree.title.toLowerCase().includes(filters.search.toLowerCase())) &&
    (filters.status === '' || tree.status === filters.status) &&
    (filters.node === '' || tree.computeNodeId === filters.node) &&
    (filters.softwareRelease === '' || tree.softwareRelease === filters.softwareRelease)
  );
}

/** The query string of these filters on another page ('' fields left out). */
function pageHref(filters: ServiceFilters, pageNumber: number): string {
  const query = new URLSearchParams();
  if (filters.search !== '') query.set('q', filters.search);
  if (filters.status !== '') query.set('status', filters.status);
  if (filters.node !== '') query.set('node', filters.node);
  if (filters.softwareRelease !== '') query.set('release', filters.softwareRelease);
  if (pageNumber !== 1) query.set('page', String(pageNumber));
  const text = query.toString();
  return text === '' ? '/panel/services' : `/panel/services?${text}`;
}

function distinct(values: (string | null)[]): string[] {
  return [...new Set(values.filter((value): value is string => value !== null))].sort();
}

function options(values: readonly string[], selected: string, label: (value: string) => string): Html[] {
  return values.map(
    (value) =>
      html`<option value="${value}" ${value === selected ? html`selected` : ''}>${label(value)}</option>`,
  );
}

function filterForm(trees: InstanceTreeSummary[], filters: ServiceFilters): Html {
  const nodes = distinct(trees.map((tree) => tree.computeNodeId));
  const releases = distinct(trees.map((tree) => tree.softwareRelease));
  return html`<form class="filters" method="get" action="/panel/services" role="search">
    <div class="field">
      <label for="filter-q">Title contains</label>
      <input id="filter-q" name="q" type="search" value="${filters.search}" />
    </div>
    <div class="field">
      <label for="filter-status">Status</label>
      <select id="filter-status" name="status">
        <option value="">Any</option>
        ${options(INSTANCE_HEALTHS, filters.status, (value) => healthLabel(value as InstanceHealth))}
      </select>
    </div>
    <div class="field">
      <label for="filter-node">Compute node</label>
      <select id="filter-node" name="node">
        <option value="">Any</option>
        ${options(nodes, filters.node, (value) => value)}
      </select>
    </div>
    <div class="field">
      <label for="filter-release">Software release</label>
      <select id="filter-release" name="release">
        <option value="">Any</option>
        ${options(releases, filters.softwareRelease, (value) => value)}
      </select>
    </div>
    <div class="actions">
      <button type="submit">Filter</button>
      <a href="/panel/services">Clear</a>
    </div>
  </form>`;
}

function treeRow(tree: InstanceTreeSummary): Html {
  return html`<tr>
    <th scope="row">
      <a href="/panel/services/${pathSegment(tree.title)}">${tree.title}</a>
      ${tree.shared ? html`<span class="muted">(shared)</span>` : ''}
    </th>
    <td>${statusBadge(tree.status)}</td>
    <td class="services-release"><code>${tree.softwareRelease}</code></td>
    <td>${tree.softwareType}</td>
    <td>
      ${
        tree.computeNodeId === null
          ? html`<span class="muted">—</span>`
          : html`${tree.computeNodeId} / ${tree.partitionId ?? ''}`
      }
    </td>
    <td>${timeElement(tree.lastChange)}</td>
  </tr>`;
}

function pagination(filters: ServiceFilters, pages: number): Html {
  if (pages <= 1) return html``;
  return html`<nav class="pagination" aria-label="Pages">
    ${filters.page > 1 ? html`<a href="${pageHref(filters, filters.page - 1)}" rel="prev">Previous</a>` : ''}
    <span>Page ${filters.page} of ${pages}</span>
    ${filters.page < pages ? html`<a href="${pageHref(filters, filters.page + 1)}" rel="next">Next</a>` : ''}
  </nav>`;
}

export function renderServices(trees: InstanceTreeSummary[], filters: ServiceFilters): Html {
  if (trees.length === 0)
    return html`<section id="services" data-live aria-live="polite">
      <p>No services yet. <a href="/panel/request">Request one</a>.</p>
    </section>`;
  const shown = trees.filter((tree) => matches(tree, filters));
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
  const pageNumber = Math.min(filters.page, pages);
  const onPage = shown.slice((pageNumber - 1) * PAGE_SIZE, pageNumber * PAGE_SIZE);
  const current = { ...filters, page: pageNumber };
  return html`${filterForm(trees, filters)}
    <section id="services" data-live aria-live="polite">
      ${
        shown.length === 0
          ? html`<p>No instance tree matches these filters. <a href="/panel/services">Show all</a>.</p>`
          : html`<div class="table-scroll">
                <table>
                  <caption class="muted">
                    ${
                      shown.length === trees.length
                        ? `${trees.length} instance trees`
                        : `${shown.length} of ${trees.length} instance trees`
                    }
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Title</th>
                      <th scope="col">Status</th>
                      <th scope="col">Software release</th>
                      <th scope="col">Software type</th>
                      <th scope="col">Node / partition</th>
                      <th scope="col">Last change</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${onPage.map(treeRow)}
                  </tbody>
                </table>
              </div>
              ${pagination(current, pages)}`
      }
    </section>`;
}

export function register(routes: PanelRoutes): void {
  routes.get('/services', async ({ caller, services, query }) => {
    const filters = filtersOf(query);
    const trees = await services.listInstanceTreeSummaries({ caller });
    return page('Services', 'services', renderServices(trees, filters));
  });
}
