/** The services page: the caller's instance trees, each with its status. */
import { html } from '../html.ts';
import { page, pathSegment, type PanelRoutes } from '../panel-routes.ts';

export function register(routes: PanelRoutes): void {
  routes.get('/services', async ({ caller, services }) => {
    const trees = await services.listInstanceTreeViews({ caller });
    const rows = await Promise.all(
      trees.map(async (tree) => {
        const status = await services.readInstanceStatus({ caller, instanceGuid: tree.instanceGuid });
        return html`<tr>
          <td><a href="/panel/services/${pathSegment(tree.title)}">${tree.title}</a></td>
          <td><span class="badge badge-${status.status}">${status.status}</span></td>
          <td><code>${tree.softwareRelease}</code></td>
        </tr>`;
      }),
    );
    const body = html`<section id="services" data-live aria-live="polite">
      ${
        trees.length === 0
          ? html`<p>No services yet. <a href="/panel/request">Request one</a>.</p>`
          : html`<div class="table-scroll">
              <table>
                <caption class="muted">
                  ${trees.length} instance trees
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Title</th>
                    <th scope="col">Status</th>
                    <th scope="col">Software release</th>
                  </tr>
                </thead>
                <tbody>
                  ${rows}
                </tbody>
              </table>
            </div>`
      }
    </section>`;
    return page('Services', 'services', body);
  });
}
