/**
 * The legacy SLAP API (docs/protocol.md §3–§5) as a fastify plugin: the second transport next to
 * json-api.ts, calling the same services with the caller authenticate-requests.ts found. In its own
 * encapsulated context: its own body parser (form bodies, bounded and strict like request-body.ts),
 * its own error answers (werkzeug's HTML pages, error-pages.ts) and a 405 for a known path asked
 * with the wrong method.
 */
import { randomInt } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { SlapError } from '../../../core/errors.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { MasterServices } from '../../services/index.ts';
import { callerOf, readUnparsedBody } from '../authenticate-requests.ts';
import { BEARER_CHALLENGE } from '../authentication.ts';
import { sendMemoized } from '../memoized-answers.ts';
import { decodeBody, readBody } from '../request-body.ts';
import { requestOrigin } from '../request-context.ts';
import { errorPage, LEGACY_CONTENT_TYPE, toLegacyFailure } from './error-pages.ts';
import { LegacyForm } from './form.ts';
import { registerHateoas } from './hateoas.ts';
import { instanceRoutes } from './instance-calls.ts';
import { nodeRoutes } from './node-calls.ts';
import type { LegacyAnswer, LegacyEnvironment, LegacyRoute } from './route.ts';

export interface LegacyApiOptions {
  services: MasterServices;
  logger: Logger;
  /** Host (with port) to use in absolute URLs when a request has no usable Host header. */
  fallbackHost: () => string;
  /** `[slapproxy] software_product_list`: product name → software release URL. */
  softwareProducts?: ReadonlyMap<string, string> | undefined;
}

const RUN_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** slapproxy's run id: 32 random letters and digits, fixed for the life of the master. */
function newRunId(): string {
  let id = '';
  for (let i = 0; i < 32; i++) id += RUN_ID_ALPHABET[randomInt(RUN_ID_ALPHABET.length)] ?? '';
  return id;
}

const ALL_METHODS: readonly HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** The client library's calls this master answers 404, as slapproxy does. */
function notServed(mode: 'proxy' | 'master'): string[] {
  const paths = ['/getComputerStatus', '/requestComputer', '/getHostingSubscriptionIpList'];
  if (mode === 'proxy') paths.push('/generateComputerCertificate', '/revokeComputerCertificate');
  return paths;
}

interface RouteConfig {
  lookupMissStatus?: number;
}

function sendText(reply: FastifyReply, status: number, answer: LegacyAnswer): FastifyReply {
  reply.code(status).header('content-type', LEGACY_CONTENT_TYPE);
  return typeof answer === 'string' ? reply.send(Buffer.from(answer)) : sendMemoized(reply, answer);
}

/** The raw query string of a request: percent-encoded ASCII only (the bytes of a URL are not text). */
function rawQuery(url: string): string {
  const mark = url.indexOf('?');
  const query = mark < 0 ? '' : url.slice(mark + 1);
  if (/[^\x21-\x7e]/.test(query))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'The query string must be percent-encoded ASCII.');
  return query;
}

/** Registers the legacy API: the calls of nodes, instances and users, and the minimal HATEOAS. */
export function registerLegacyApi(fastify: FastifyInstance, options: LegacyApiOptions): void {
  const environment: LegacyEnvironment = {
    services: options.services,
    softwareProducts: options.softwareProducts ?? new Map(),
    runId: newRunId(),
  };
  const routes: LegacyRoute[] = [...nodeRoutes(environment), ...instanceRoutes(environment)];
  const { logger } = options;

  void fastify.register((legacy, _options, done) => {
    legacy.removeAllContentTypeParsers();
    legacy.addContentTypeParser(
      'application/x-www-form-urlencoded',
      async (request: FastifyRequest, payload: Readable) => {
        const bytes = await readBody(payload, { contentLength: request.headers['content-length'] });
        return LegacyForm.parse(decodeBody(bytes), 'body');
      },
    );
    // Any other body is read (bounded) before it is refused: see request-body.ts.
    legacy.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
      await readBody(payload, { contentLength: request.headers['content-length'] });
      throw new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        'The request body must be a form (Content-Type: application/x-www-form-urlencoded).',
      );
    });

    legacy.setErrorHandler((error, request, reply) => {
      const config = request.routeOptions.config as RouteConfig;
      const failure = toLegacyFailure(error, config.lookupMissStatus);
      if (failure.internal) logger.error({ err: error, url: request.url }, 'legacy request failed');
      else
        logger.debug(
          { url: request.url.slice(0, 200), status: failure.status, title: failure.message },
          'legacy request refused',
        );
      if (failure.status === 401) reply.header('www-authenticate', BEARER_CHALLENGE);
      return sendText(reply, failure.status, errorPage(failure.status, failure.message));
    });

    // What the Python client may call but this master does not serve: slapproxy's 404 (§3.7).
    for (const path of notServed(options.services.context.mode)) {
      legacy.all(path, async (request, reply) => {
        await readUnparsedBody(request);
        return sendText(reply, 404, errorPage(404, `${path} is not implemented by this master.`));
      });
    }
    for (const route of routes) {
      const config: RouteConfig = { lookupMissStatus: route.lookupMissStatus ?? 404 };
      legacy.route({
        method: route.method,
        url: route.path,
        config,
        handler: async (request, reply) => {
          if (route.method === 'GET') await readUnparsedBody(request);
          const query = LegacyForm.parse(rawQuery(request.url), 'query string');
          const form = request.body instanceof LegacyForm ? request.body.with(query) : query;
          const answer = await route.handle({
            form,
            caller: callerOf(request),
            origin: () => requestOrigin(request, options.fallbackHost()),
          });
          return sendText(reply, 200, answer);
        },
      });
      // Its other methods: 405, as werkzeug answers.
      const others = ALL_METHODS.filter(
        (method) => method !== route.method && !(route.method === 'GET' && method === 'HEAD'),
      );
      legacy.route({
        method: [...others],
        url: route.path,
        config,
        handler: async (request, reply) => {
          await readUnparsedBody(request);
          reply.header('allow', route.method === 'GET' ? 'GET, HEAD' : route.method);
          return sendText(reply, 405, errorPage(405, 'The method is not allowed for the requested URL.'));
        },
      });
    }
    registerHateoas(legacy, { services: options.services, fallbackHost: options.fallbackHost });
    done();
  });
}
