/**
 * An instance tree's page (`/panel/services/:title`): every instance of the tree with its states,
 * status, connection parameters, parameters, error, promise results and bang; and its actions,
 * stop, start and destroy (after a confirmation page), which request the tree again with the new
 * state as `slapos request --state` does.
 */
import { SlapError } from '../../../core/errors.ts';
import type { RequestedState } from '../../../core/states.ts';
import type {
  Caller,
  InstanceDetails,
  InstanceEvent,
  InstanceTreeDetails,
  MasterServices,
  PromiseTransition,
} from '../../services/index.ts';
import { html, textBlock, type Html } from '../html.ts';
import { page, pathSegment, redirect, type PanelRequest, type PanelRoutes } from '../panel-routes.ts';
import { promiseSection } from '../promise-section.ts';
import { parameterTable, statusBadge } from '../service-fragments.ts';
import { timeElement } from '../time-element.ts';
import { timelineSection } from '../timeline-section.ts';
import { readLastDayUsage, usageSection, type LastDayUsage } from '../usage-section.ts';

/** The panel's answer to a tree the caller has not: the page's 404 (the API answers 403). */
async function orNotFound<T>(title: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SlapError && error.code === 'SLAP_ERR_INSTANCE_TREE_NOT_FOUND')
      throw new SlapError('SLAP_ERR_NOT_FOUND', `No instance tree ${title} found.`, { cause: error });
    throw error;
  }
}

function readTree(services: MasterServices, caller: Caller, title: string): Promise<InstanceTreeDetails> {
  return orNotFound(title, () => services.readInstanceTreeDetails({ caller, title }));
}

/** The panel page of an instance tree. */
export function treePath(title: string): string {
  return `/panel/services/${pathSegment(title)}`;
}

/** What the page shows of an instance besides its details: its timeline and promise history. */
interface InstanceStory {
  events: readonly InstanceEvent[];
  promiseHistory: readonly PromiseTransition[];
  /** Shared instances have none of their own (their host's partition reports it). */
  usage: LastDayUsage | undefined;
}

/** How many of an instance's latest events the page shows. */
const TIMELINE_EVENTS = 50;

function readStories(request: PanelRequest, tree: InstanceTreeDetails): Promise<InstanceStory[]> {
  const { services, caller } = request;
  return Promise.all(
    tree.instances.map(async ({ view }) => ({
      events: await services.readInstanceTimeline({
        caller,
        instanceGuid: view.instanceGuid,
        limit: TIMELINE_EVENTS,
      }),
      promiseHistory: await services.readPromiseHistory({ caller, instanceGuid: view.instanceGuid }),
      usage: view.shared
        ? undefined
        : await readLastDayUsage(services, caller, { instanceGuid: view.instanceGuid }),
    })),
  );
}

function instanceSection(instance: InstanceDetails, story: InstanceStory, index: number): Html {
  const { view } = instance;
  const id = `instance-${index}`;
  return html`<section id="${id}" class="instance" data-live aria-labelledby="${id}-title">
    <h2 id="${id}-title">
      ${view.title}
      ${index === 0 ? html`<span class="muted">(root${view.shared ? ', shared' : ''})</span>` : ''}
    </h2>
    <dl class="properties">
      <dt>Status</dt>
      <dd>${statusBadge(instance.status)}</dd>
      <dt>Requested state</dt>
      <dd>${instance.requestedState}</dd>
      <dt>Reported state</dt>
      <dd>
        ${instance.reportedState ?? html`<span class="muted">none yet</span>`}
        ${instance.reportedAt === null ? '' : html`(${timeElement(instance.reportedAt)})`}
      </dd>
      <dt>Software release</dt>
      <dd><code>${view.softwareRelease}</code></dd>
      <dt>Software type</dt>
      <dd>${view.softwareType}</dd>
      <dt>Compute node / partition</dt>
      <dd>
        ${view.computeNodeId === '' ? html`<span class="muted">none yet</span>` : html`${view.computeNodeId} / ${view.partitionId}`}
      </dd>
      <dt>Instance reference</dt>
      <dd><code>${view.instanceGuid}</code></dd>
    </dl>
    ${
      instance.statusMessage === null || instance.statusMessage === instance.errorMessage
        ? ''
        : html`<p>Status detail:</p>
            ${textBlock(instance.statusMessage)}`
    }
    ${
      instance.errorMessage === null
        ? ''
        : html`<h3>Last error ${timeElement(instance.errorAt)}</h3>
            ${textBlock(instance.errorMessage, { error: true })}`
    }
    ${
      instance.bangMessage === null
        ? ''
        : html`<h3>Bang</h3>
            ${textBlock(instance.bangMessage)}`
    }
    ${parameterTable('Connection parameters', view.connectionParameters)}
    ${parameterTable('Parameters', view.parameters)}
    <h3>Promises</h3>
    ${promiseSection({ results: instance.promises, history: story.promiseHistory })}
    ${
      story.usage === undefined
        ? ''
        : usageSection(`${id}-usage`, 'Usage over the last day', story.usage, { nested: true })
    }
    <details id="${id}-timeline" ${index === 0 ? html`open` : ''}>
      <summary>Timeline (latest ${TIMELINE_EVENTS} events)</summary>
      ${timelineSection(story.events)}
    </details>
  </section>`;
}

function actions(tree: InstanceTreeDetails, request: PanelRequest): Html {
  const path = treePath(tree.title);
  return html`<div class="actions tree-actions">
    <form class="inline" method="post" action="${path}/stop" data-confirm="Stop ${tree.title}?">
      ${request.csrfField()}<button type="submit" class="secondary">Stop</button>
    </form>
    <form class="inline" method="post" action="${path}/start">
      ${request.csrfField()}<button type="submit">Start</button>
    </form>
    <a href="${path}/parameters">Modify parameters</a>
    <a class="danger" href="${path}/destroy">Destroy…</a>
  </div>`;
}

export function renderTree(
  tree: InstanceTreeDetails,
  stories: readonly InstanceStory[],
  request: PanelRequest,
): Html {
  return html`<p><a href="/panel/services">← All services</a></p>
    ${actions(tree, request)}
    ${tree.instances.map((instance, index) =>
      instanceSection(
        instance,
        stories[index] ?? { events: [], promiseHistory: [], usage: undefined },
        index,
      ),
    )}`;
}

async function changeState(request: PanelRequest, state: RequestedState): Promise<void> {
  const title = request.params.title ?? '';
  await orNotFound(title, () =>
    request.services.changeInstanceTreeState({ caller: request.caller, title, state }),
  );
}

export function register(routes: PanelRoutes): void {
  routes.get('/services/:title', async (request) => {
    const title = request.params.title ?? '';
    const tree = await readTree(request.services, request.caller, title);
    return page(tree.title, 'services', renderTree(tree, await readStories(request, tree), request));
  });
  routes.post('/services/:title/stop', async (request) => {
    await changeState(request, 'stopped');
    return redirect(treePath(request.params.title ?? ''));
  });
  routes.post('/services/:title/start', async (request) => {
    await changeState(request, 'started');
    return redirect(treePath(request.params.title ?? ''));
  });
  routes.get('/services/:title/destroy', async (request) => {
    const tree = await readTree(request.services, request.caller, request.params.title ?? '');
    const path = treePath(tree.title);
    const body = html`<p>
        Destroying <strong>${tree.title}</strong> destroys its
        ${tree.instances.length === 1 ? 'instance' : `${tree.instances.length} instances`} and their data.
        <strong>This cannot be undone.</strong>
      </p>
      <form method="post" action="${path}/destroy" class="actions">
        ${request.csrfField()}
        <button type="submit" class="danger">Destroy ${tree.title}</button>
        <a href="${path}">Cancel</a>
      </form>`;
    return page(`Destroy ${tree.title}?`, 'services', body);
  });
  routes.post('/services/:title/destroy', async (request) => {
    await changeState(request, 'destroyed');
    return redirect('/panel/services');
  });
}
