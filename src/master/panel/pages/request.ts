/**
 * Request a service from the form its software release's JSON schema describes (a key/value
 * editor for a release without one), and modify an instance tree's parameters with the same form,
 * pre-filled. Both post to `requestInstance`, the use case of the JSON API's
 * `slapos.post.v0.software_instance`, after the same edge checks on titles, URLs and parameters,
 * and after validating the parameters against the schema (the browser did too, with the HTML
 * constraint attributes).
 */
import { isSlapError } from '../../../core/errors.ts';
import { parameterDictProblem, TEXT_RULES, textProblem, type TextRule } from '../../../core/text-rules.ts';
import type { Caller, InstanceView, MasterServices, SoftwareSchema } from '../../services/index.ts';
import { html, type Html } from '../html.ts';
import {
  page,
  pathSegment,
  redirect,
  type PanelAnswer,
  type PanelForm,
  type PanelRoutes,
} from '../panel-routes.ts';
import {
  deserialiseParameters,
  keyValueFields,
  parseKeyValueForm,
  parseSchemaForm,
  schemaFormFields,
  serialiseParameters,
  validateParameters,
  type FieldErrors,
  type Parameters,
} from '../schema-form.ts';

/** The schema of a release, or why it could not be read (the form then falls back to key/value rows). */
interface LoadedSchema {
  schema: SoftwareSchema | undefined;
  problem: string | undefined;
}

async function loadSchema(
  services: MasterServices,
  caller: Caller,
  softwareRelease: string,
  softwareType: string | undefined,
  shared?: boolean,
): Promise<LoadedSchema> {
  try {
    const schema = await services.readSoftwareSchema({ caller, softwareRelease, softwareType, shared });
    return { schema, problem: undefined };
  } catch (error) {
    if (
      isSlapError(error) &&
      (error.code === 'SLAP_ERR_SCHEMA_UNREADABLE' || error.code === 'SLAP_ERR_SCHEMA_LOCATION_REFUSED')
    )
      return { schema: undefined, problem: `The parameter schema cannot be used: ${error.message}` };
    throw error;
  }
}

/** The parameters a posted form holds (schema fields, or key/value rows) and their errors. */
function readParameters(
  loaded: LoadedSchema,
  form: PanelForm,
): { parameters: Parameters; errors: FieldErrors; blankRows: number } {
  const input = loaded.schema?.input;
  if (input) {
    const parsed = parseSchemaForm(form);
    if (parsed.errors.size > 0) return { ...parsed, blankRows: 0 };
    try {
      return {
        parameters: parsed.parameters,
        errors: validateParameters(input, parsed.parameters),
        blankRows: 0,
      };
    } catch (error) {
      if (!isSlapError(error) || error.code !== 'SLAP_ERR_SCHEMA_UNREADABLE') throw error;
      return { parameters: parsed.parameters, errors: new Map([['', [error.message]]]), blankRows: 0 };
    }
  }
  const parsed = parseKeyValueForm(form);
  return { ...parsed, blankRows: Math.max(0, parsed.rows - Object.keys(parsed.parameters).length) };
}

interface ParameterFormOptions {
  loaded: LoadedSchema;
  /** undefined: a new request (the schema's defaults). */
  values: Parameters | undefined;
  errors: FieldErrors;
  extraRows?: number;
}

function parameterFields({ loaded, values, errors, extraRows }: ParameterFormOptions): Html {
  const input = loaded.schema?.input;
  const notice = loaded.problem
    ? html`<p class="error-message" role="alert">${loaded.problem}</p>`
    : loaded.schema?.input === undefined
      ? html`<p class="field-help">
          This software release publishes no parameter schema: give its parameters as names and values.
        </p>`
      : '';
  const fields = input
    ? schemaFormFields(input, values, errors)
    : keyValueFields(values ?? {}, errors, extraRows);
  const addRows = input
    ? ''
    : html`<button type="submit" class="secondary" name="add_rows" value="1" formnovalidate>
        Add rows
      </button>`;
  return html`<fieldset>
    <legend>Parameters</legend>
    ${notice} ${fields} ${addRows}
  </fieldset>`;
}

function checkText(errors: FieldErrors, label: string, value: string, rule: TextRule): void {
  const problem = textProblem(value, rule);
  if (problem !== undefined) errors.set('', [...(errors.get('') ?? []), `${label} ${problem}.`]);
}

function problemMessage(problem: string | undefined): Html | string {
  return problem === undefined ? '' : html`<p class="error-message" role="alert">${problem}</p>`;
}

// --- request ---

interface RequestState {
  softwareRelease: string;
  softwareType: string;
  title: string;
  loaded: LoadedSchema;
  values: Parameters | undefined;
  errors: FieldErrors;
  extraRows?: number;
  problem?: string | undefined;
}

/** The GET form that picks the release and its software type (no JavaScript needed). */
function chooseForm(softwareRelease: string, loaded: LoadedSchema | undefined, softwareType: string): Html {
  const types = loaded?.schema?.softwareTypes ?? [];
  const chosen = loaded?.schema?.entry?.key ?? softwareType;
  const typeField =
    types.length > 0
      ? html`<div class="field">
          <label for="software-type">Software type</label>
          <select id="software-type" name="software_type">
            ${types.map(
              (entry) =>
                html`<option value="${entry.key}" ${entry.key === chosen ? html`selected` : ''}>
                  ${entry.title}${entry.shared ? ' (shared)' : ''}
                </option>`,
            )}
          </select>
          ${loaded?.schema?.entry?.description ? html`<small class="field-help">${loaded.schema.entry.description}</small>` : ''}
        </div>`
      : '';
  return html`<form method="get" action="/panel/request">
    <div class="field">
      <label for="software-release">Software release</label>
      <input
        id="software-release"
        name="software_release"
        type="text"
        value="${softwareRelease}"
        required
        aria-describedby="software-release-help"
      />
      <small class="field-help" id="software-release-help"
        >The URL of its software.cfg (a path on this machine in proxy mode).</small
      >
    </div>
    ${typeField}
    <div class="actions"><button type="submit" class="secondary">Show its form</button></div>
  </form>`;
}

function requestPage(request: { csrfField(): Html }, state: RequestState, status?: number): PanelAnswer {
  const { loaded } = state;
  if (state.softwareRelease === '')
    return page('Request a service', 'request', chooseForm('', undefined, ''), status);
  const entry = loaded.schema?.entry;
  const typeField = loaded.schema
    ? html`<input type="hidden" name="software_type" value="${entry?.key ?? state.softwareType}" />`
    : html`<div class="field">
        <label for="software-type-text">Software type</label>
        <input id="software-type-text" name="software_type" type="text" value="${state.softwareType}" />
      </div>`;
  const about = loaded.schema
    ? html`<p>
        ${loaded.schema.name || state.softwareRelease}${loaded.schema.description ? html` — ${loaded.schema.description}` : ''}
      </p>`
    : '';
  const body = html`${chooseForm(state.softwareRelease, loaded, state.softwareType)}
    <section aria-labelledby="request-heading">
      <h2 id="request-heading">
        ${entry ? `${entry.title}${entry.shared ? ' (shared instance)' : ''}` : 'Request'}
      </h2>
      ${about} ${problemMessage(state.problem)}
      <form method="post" action="/panel/request">
        ${request.csrfField()}
        <input type="hidden" name="software_release" value="${state.softwareRelease}" />
        ${typeField}
        <div class="field">
          <label for="title">Title</label>
          <input
            id="title"
            name="title"
            type="text"
            value="${state.title}"
            required
            maxlength="${TEXT_RULES.title.maxLength}"
            aria-describedby="title-help"
          />
          <small class="field-help" id="title-help"
            >The name of the new service (of its instance tree).</small
          >
        </div>
        ${parameterFields(state)}
        <div class="actions"><button type="submit">Request</button></div>
      </form>
    </section>`;
  return page('Request a service', 'request', body, status);
}

function asSoftwareType(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

// --- modify ---

interface ModifyState {
  view: InstanceView;
  loaded: LoadedSchema;
  values: Parameters;
  errors: FieldErrors;
  extraRows?: number;
  problem?: string | undefined;
}

function modifyPage(request: { csrfField(): Html }, state: ModifyState, status?: number): PanelAnswer {
  const { view } = state;
  const body = html`<dl class="properties">
      <dt>Software release</dt>
      <dd><code>${view.softwareRelease}</code></dd>
      <dt>Software type</dt>
      <dd>${view.softwareType}${view.shared ? ' (shared instance)' : ''}</dd>
    </dl>
    ${problemMessage(state.problem)}
    <form method="post" action="/panel/services/${pathSegment(view.title)}/parameters">
      ${request.csrfField()} ${parameterFields(state)}
      <div class="actions">
        <button type="submit">Save the parameters</button>
        <a href="/panel/services/${pathSegment(view.title)}">Cancel</a>
      </div>
    </form>`;
  return page(`Parameters of ${view.title}`, 'services', body, status);
}

export function register(routes: PanelRoutes): void {
  routes.get('/request', async (request) => {
    const softwareRelease = request.query.get('software_release') ?? '';
    const softwareType = request.query.get('software_type') ?? '';
    const loaded =
      softwareRelease === ''
        ? { schema: undefined, problem: undefined }
        : await loadSchema(request.services, request.caller, softwareRelease, asSoftwareType(softwareType));
    return requestPage(request, {
      softwareRelease,
      softwareType: softwareType || 'default',
      title: '',
      loaded,
      values: undefined,
      errors: new Map(),
    });
  });

  routes.post('/request', async (request) => {
    const { services, caller, form } = request;
    const softwareRelease = form.get('software_release') ?? '';
    const typed = form.get('software_type') ?? '';
    const title = form.get('title') ?? '';
    const loaded = await loadSchema(services, caller, softwareRelease, asSoftwareType(typed));
    const { parameters, errors, blankRows } = readParameters(loaded, form);
    const state: RequestState = {
      softwareRelease,
      softwareType: typed,
      title,
      loaded,
      values: parameters,
      errors,
    };
    if (form.get('add_rows') !== undefined && !loaded.schema?.input)
      return requestPage(request, { ...state, errors: new Map(), extraRows: blankRows + 3 });
    checkText(errors, 'The title', title, TEXT_RULES.title);
    checkText(errors, 'The software release', softwareRelease, TEXT_RULES.url);
    const entry = loaded.schema?.entry;
    const softwareType = entry?.softwareType ?? (typed || 'default');
    checkText(errors, 'The software type', softwareType, TEXT_RULES.optionalName);
    const sent = serialiseParameters(entry, parameters);
    const dictProblem = parameterDictProblem(sent);
    if (dictProblem !== undefined)
      errors.set('', [...(errors.get('') ?? []), `The parameters: ${dictProblem}.`]);
    if (errors.size > 0) return requestPage(request, state, 400);
    try {
      await services.requestInstance({
        caller,
        title,
        softwareRelease,
        softwareType,
        parameters: sent,
        shared: entry?.shared ?? false,
        state: 'started',
        sla: {},
      });
    } catch (error) {
      if (!isSlapError(error) || error.status >= 500) throw error;
      return requestPage(request, { ...state, problem: error.message }, error.status === 413 ? 413 : 400);
    }
    return redirect(`/panel/services/${pathSegment(title)}`);
  });

  routes.get('/services/:title/parameters', async (request) => {
    const { services, caller } = request;
    const view = await services.getInstanceTree({ caller, title: request.params.title ?? '' });
    const loaded = await loadSchema(services, caller, view.softwareRelease, view.softwareType, view.shared);
    const values = deserialiseParameters(loaded.schema?.entry, view.parameters);
    return modifyPage(request, { view, loaded, values, errors: new Map() });
  });

  routes.post('/services/:title/parameters', async (request) => {
    const { services, caller, form } = request;
    const view = await services.getInstanceTree({ caller, title: request.params.title ?? '' });
    const loaded = await loadSchema(services, caller, view.softwareRelease, view.softwareType, view.shared);
    const { parameters, errors, blankRows } = readParameters(loaded, form);
    const state: ModifyState = { view, loaded, values: parameters, errors };
    if (form.get('add_rows') !== undefined && !loaded.schema?.input)
      return modifyPage(request, { ...state, errors: new Map(), extraRows: blankRows + 3 });
    const sent = serialiseParameters(loaded.schema?.entry, parameters);
    const dictProblem = parameterDictProblem(sent);
    if (dictProblem !== undefined)
      errors.set('', [...(errors.get('') ?? []), `The parameters: ${dictProblem}.`]);
    if (errors.size > 0) return modifyPage(request, state, 400);
    try {
      // The tree's stored state and SLA are kept.
      await services.updateInstanceTree({ caller, title: view.title, parameters: sent });
    } catch (error) {
      if (!isSlapError(error) || error.status >= 500) throw error;
      return modifyPage(request, { ...state, problem: error.message }, error.status === 413 ? 413 : 400);
    }
    return redirect(`/panel/services/${pathSegment(view.title)}`);
  });
}
