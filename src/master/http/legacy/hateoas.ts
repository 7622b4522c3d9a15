/**
 * slapproxy's minimal HATEOAS under /hateoas/ (docs/protocol.md §5.5): just what the original
 * `slapos service list|info` and `slapos computer list|info` read. JSON answers; errors are the
 * legacy HTML pages of the enclosing context.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SlapError } from '../../../core/errors.ts';
import { encodeParameterXml } from '../../../core/parameter-xml.ts';
import type { InstanceView, MasterServices } from '../../services/index.ts';
import { callerOf, readUnparsedBody } from '../authenticate-requests.ts';
import { requestOrigin } from '../request-context.ts';
import { LegacyForm } from './form.ts';

export interface HateoasOptions {
  services: MasterServices;
  fallbackHost: () => string;
}

const SERVICE_LIST = 'portal_type:"Instance Tree" AND validation_state:validated';
const SERVICE_INFO = `${SERVICE_LIST} AND title:=`;
const COMPUTER_LIST = 'portal_type:"Compute Node" AND validation_state:validated';
const COMPUTER_INFO = `${COMPUTER_LIST} AND reference:=`;
/** One double-quoted string, backslash escapes allowed inside (slapproxy's check). */
const QUOTED = /^"(?:\\.|[^\\"])*"$/s;

function badRequest(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

function notFound(what: string): SlapError {
  return new SlapError('SLAP_ERR_NOT_FOUND', `No ${what} found.`);
}

/** The quoted value after `prefix`, without its quotes (slapproxy strips them, escapes kept). */
function quotedValue(query: string, prefix: string): string {
  const value = query.slice(prefix.length);
  if (!QUOTED.test(value)) throw badRequest(`Unhandled query: ${query}`);
  return value.replace(/^"+|"+$/g, '');
}

/** A view's parameters as parameter XML (stored ones are strings, null for an empty value). */
function parameterXmlOf(view: InstanceView): string {
  const parameters: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(view.parameters)) parameters[key] = value ?? '';
  return encodeParameterXml(parameters);
}

function pathSegment(text: string): string {
  return encodeURIComponent(text);
}

function treeItem(view: InstanceView): Record<string, unknown> {
  const relativeUrl = view.shared
    ? `/hateoas/shared/${pathSegment(view.title)}`
    : `/hateoas/partitions/${pathSegment(view.title)}`;
  return { title: view.title, url_string: view.softwareRelease, relative_url: relativeUrl };
}

function computerItem(reference: string): Record<string, unknown> {
  return { reference, title: reference, relative_url: `/hateoas/computers/${pathSegment(reference)}` };
}

function field(type: string, key: string, value: unknown): Record<string, unknown> {
  return { type, key, default: value };
}

function serviceDocument(view: InstanceView): Record<string, unknown> {
  return {
    _embedded: {
      _view: {
        form_id: field('StringField', 'form_id', 'InstanceTree_viewAsHateoas'),
        my_reference: field('StringField', 'field_my_reference', view.title),
        my_slap_state: field('StringField', 'field_my_slap_state', view.shared ? 'unused' : view.state),
        my_text_content: field('StringField', 'field_my_text_content', parameterXmlOf(view)),
        my_connection_parameter_list: field(
          'StringField',
          'field_my_connection_parameter_list',
          view.connectionXml ?? null,
        ),
        my_url_string: field('StringField', 'field_my_url_string', view.softwareRelease),
        my_source_reference: field('StringField', 'field_my_source_reference', view.softwareType),
        my_root_slave: field('IntegerField', 'field_my_root_slave', view.shared ? 1 : 0),
      },
    },
    _links: { type: { name: 'Instance Tree' } },
  };
}

function computerDocument(reference: string): Record<string, unknown> {
  return {
    _embedded: {
      _view: {
        form_id: field('StringField', 'computer', reference),
        my_reference: field('StringField', 'reference', reference),
        my_title: field('StringField', 'reference', reference),
      },
    },
    _links: { type: { name: 'Computer' } },
  };
}

function sendJson(reply: FastifyReply, body: unknown): FastifyReply {
  return reply
    .code(200)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify(body)));
}

/** Only a path of this API may be traversed to (never another site: no open redirect). */
function traversable(relativeUrl: string): string {
  if (!relativeUrl.startsWith('/hateoas/') || /[^\x21-\x7e]/.test(relativeUrl))
    throw badRequest(`Cannot traverse to ${JSON.stringify(relativeUrl.slice(0, 200))}`);
  return relativeUrl;
}

export function registerHateoas(fastify: FastifyInstance, options: HateoasOptions): void {
  const { services } = options;

  async function search(query: string, caller: ReturnType<typeof callerOf>): Promise<unknown[]> {
    if (query === SERVICE_LIST || query.startsWith(SERVICE_INFO)) {
      const title = query === SERVICE_LIST ? undefined : quotedValue(query, SERVICE_INFO);
      const views = await services.listInstanceTreeViews({ caller });
      // A title names a root instance, else a root shared instance (the roots come first).
      const matching = title === undefined ? views : views.filter((view) => view.title === title).slice(0, 1);
      return matching.map(treeItem);
    }
    if (query === COMPUTER_LIST || query.startsWith(COMPUTER_INFO)) {
      const reference = query === COMPUTER_LIST ? undefined : quotedValue(query, COMPUTER_INFO);
      const nodes = await services.listComputeNodes({ caller });
      return nodes.filter((node) => reference === undefined || node === reference).map(computerItem);
    }
    throw badRequest(`Unhandled query: ${query}`);
  }

  // `master_rest_url` is `<master>/hateoas`: the client asks for it with or without the slash.
  const root = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    await readUnparsedBody(request);
    const mark = request.url.indexOf('?');
    const form = LegacyForm.parse(mark < 0 ? '' : request.url.slice(mark + 1), 'query string');
    const mode = form.optional('mode');
    const caller = callerOf(request);
    if (mode === undefined) {
      const origin = requestOrigin(request, options.fallbackHost());
      const url = await services.hateoasUrl({ caller, origin });
      return sendJson(reply, {
        _links: {
          raw_search: { href: `${url}?mode=search&query={query}&select_list={select_list}` },
          traverse: { href: `${url}?mode=traverse&relative_url={relative_url}&view={view}` },
        },
      });
    }
    if (mode === 'search') {
      return sendJson(reply, { _embedded: { contents: await search(form.required('query'), caller) } });
    }
    if (mode === 'traverse') {
      return reply.redirect(traversable(form.required('relative_url')), 302);
    }
    throw badRequest(`Unhandled mode: ${mode}`);
  };
  fastify.get('/hateoas/', root);
  fastify.get('/hateoas', root);

  fastify.get<{ Params: { title: string } }>('/hateoas/partitions/:title', async (request, reply) => {
    await readUnparsedBody(request);
    const view = await services.getInstanceTree({ caller: callerOf(request), title: request.params.title });
    if (view.shared) throw notFound(`instance ${request.params.title}`);
    return sendJson(reply, serviceDocument(view));
  });

  fastify.get<{ Params: { title: string } }>('/hateoas/shared/:title', async (request, reply) => {
    await readUnparsedBody(request);
    const view = await services.getInstanceTree({ caller: callerOf(request), title: request.params.title });
    if (!view.shared) throw notFound(`shared instance ${request.params.title}`);
    return sendJson(reply, serviceDocument(view));
  });

  fastify.get<{ Params: { reference: string } }>('/hateoas/computers/:reference', async (request, reply) => {
    await readUnparsedBody(request);
    const { reference } = request.params;
    const nodes = await services.listComputeNodes({ caller: callerOf(request) });
    if (!nodes.includes(reference)) throw notFound(`compute node ${reference}`);
    return sendJson(reply, computerDocument(reference));
  });
}
