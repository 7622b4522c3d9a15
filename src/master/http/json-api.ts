/**
 * The JSON API v0 (slapos-json-rpc.json + the experimental file) as a fastify plugin: one POST
 * route per path of the contract, bodies validated against the contract's schemas, the caller
 * (authenticated by authenticate-requests.ts before any body is read) handed to the services,
 * errors as `{status, type, title}`. Transport only: each
 * handler decodes, calls one service, encodes.
 */
import type { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { apiSpecText, EXTENSION_SPEC_URL_PATH, type ApiPath, type ApiRequest } from '../../api/index.ts';
import { SlapError } from '../../core/errors.ts';
import { formatFromJson } from '../../core/format-plan.ts';
import { parsePythonJson } from '../../core/python-value.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Caller, MasterServices, RequestOrigin } from '../services/index.ts';
import {
  backupListDocument,
  backupSyncDocument,
  backupSyncReports,
  instanceDocument,
  instanceStatusDocument,
  nodeSnapshotDocument,
  promiseResultsDocument,
  softwareInstallationStatusDocument,
  success,
} from './documents.ts';
import { callerOf, readUnparsedBody } from './authenticate-requests.ts';
import { BEARER_CHALLENGE } from './authentication.ts';
import { errorBody, toHttpError } from './errors.ts';
import {
  decodeBody,
  decodeLargeBody,
  joinChunks,
  LARGE_BODY_BYTES,
  parseJsonBody,
  parseLargeJsonBody,
  readBody,
  readBodyChunks,
} from './request-body.ts';
import { onceEncoder, sendMemoized } from './memoized-answers.ts';
import { acceptsJson, requestOrigin } from './request-context.ts';
import { requesterOf, type RequesterPartition } from './requester.ts';
import { REQUEST_PATHS, requestValidator } from './validation.ts';

export interface JsonApiOptions {
  services: MasterServices;
  /** In master mode an instance requests as itself: the requester headers of proxy mode are refused. */
  mode?: 'proxy' | 'master';
  /** False (`--api legacy`): the parsers and handlers are set, but no JSON API path is served. */
  routes?: boolean;
  logger: Logger;
  /** Host (with port) to use in absolute URLs when a request has no usable Host header. */
  fallbackHost: () => string;
}

interface HandlerInput<P extends ApiPath> {
  body: ApiRequest<P>;
  caller: Caller;
  origin: () => RequestOrigin;
  /** The body as Python would read it (floats stay floats); for free-form parameter dictionaries. */
  pythonBody: () => ApiRequest<P>;
  /** The requesting partition of our requester headers extension (requester.ts), if any. */
  requester: () => RequesterPartition | undefined;
  /** Aborted when the client goes away (for long polls; created on first call). */
  signal: () => AbortSignal;
}

type Handler<P extends ApiPath> = (input: HandlerInput<P>) => unknown;
type HandlerTable = { [P in ApiPath]: Handler<P> };

const RAW_BODY = Symbol('rawBody');
/** Set on a request whose body is LARGE_BODY_BYTES or more: it is handled in steps. */
const LARGE_BODY = Symbol('largeBody');
type WithRawBody = FastifyRequest & { [RAW_BODY]?: string; [LARGE_BODY]?: true };

function handlers(services: MasterServices): HandlerTable {
  return {
    '/slapos.post.v0.software_instance': async ({ body, caller, origin, pythonBody, requester }) =>
      instanceDocument(
        await services.requestInstance({
          caller,
          title: body.title,
          softwareRelease: body.software_release_uri,
          softwareType: body.software_type,
          parameters: pythonBody().parameters ?? {},
          shared: body.shared ?? false,
          state: body.state ?? 'started',
          sla: pythonBody().sla_parameters ?? {},
          requester: requester(),
          origin: origin(),
        }),
      ),
    '/slapos.get.v0.software_instance': async ({ body, caller }) =>
      instanceDocument(await services.getInstance({ caller, instanceGuid: body.instance_guid })),
    '/slapos.get.v0.compute_partition': async ({ body, caller }) =>
      instanceDocument(
        await services.getComputePartition({
          caller,
          computeNodeId: body.computer_guid,
          partitionId: body.compute_partition_id,
        }),
      ),
    '/slapos.get.v0.instance_tree': async ({ body, caller }) =>
      instanceDocument(await services.getInstanceTree({ caller, title: body.title })),
    '/slapos.allDocs.v0.instance_tree_list': async ({ caller }) => ({
      result_list: (await services.listInstanceTrees({ caller })).map((title) => ({ title })),
    }),
    '/slapos.allDocs.v0.compute_node_instance_list': async ({ body, caller }) => {
      const items = await services.listComputeNodeInstances({ caller, computeNodeId: body.computer_guid });
      return serializeOnce(items, () => ({
        result_list: items.map((item) => ({
          title: item.title,
          instance_guid: item.instanceGuid,
          state: item.state,
          compute_partition_id: item.partitionId,
          software_release_uri: item.softwareRelease,
        })),
      }));
    },
    '/slapos.allDocs.v0.instance_node_instance_list': async ({ body, caller }) => ({
      result_list: (
        await services.listHostedSharedInstances({ caller, instanceGuid: body.instance_guid })
      ).map((item) => ({
        title: item.title,
        instance_guid: item.instanceGuid,
        software_type: item.softwareType,
        state: 'started' as const,
        parameters: item.parameters,
        compute_partition_id: item.partitionId,
      })),
    }),
    '/slapos.allDocs.v0.compute_node_software_installation_list': async ({ body, caller }) => ({
      result_list: (
        await services.listSoftwareInstallations({ caller, computeNodeId: body.computer_guid })
      ).map((item) => ({ software_release_uri: item.url, state: item.state })),
    }),
    '/slapos.post.v0.software_installation': async ({ body, caller }) =>
      success(
        await services.supplySoftware({
          caller,
          computeNodeId: body.computer_guid,
          url: body.software_release_uri,
          state: body.state ?? 'available',
        }),
      ),
    '/slapos.put.v0.software_installation_reported_state': async ({ body, caller }) =>
      success(
        await services.reportSoftwareInstallationState({
          caller,
          computeNodeId: body.computer_guid,
          url: body.software_release_uri,
          reportedState: body.reported_state,
        }),
      ),
    '/slapos.put.v0.software_installation_error': async ({ body, caller }) =>
      success(
        await services.reportSoftwareInstallationError({
          caller,
          computeNodeId: body.computer_guid,
          url: body.software_release_uri,
          message: body.message,
        }),
      ),
    '/slapos.put.v0.software_instance_reported_state': async ({ body, caller }) =>
      success(
        await services.reportInstanceState({
          caller,
          instanceGuid: body.instance_guid,
          reportedState: body.reported_state,
        }),
      ),
    '/slapos.put.v0.software_instance_error': async ({ body, caller }) =>
      success(
        await services.reportInstanceError({
          caller,
          instanceGuid: body.instance_guid,
          message: body.message,
        }),
      ),
    '/slapos.put.v0.software_instance_connection_parameter': async ({ body, caller, pythonBody }) =>
      success(
        await services.setConnectionParameters({
          caller,
          instanceGuid: body.instance_guid,
          parameters: pythonBody().connection_parameter_dict,
        }),
      ),
    '/slapos.put.v0.software_instance_bang': async ({ body, caller }) =>
      success(
        await services.bangInstance({ caller, instanceGuid: body.instance_guid, message: body.message }),
      ),
    '/slapos.put.v0.software_instance_title': async ({ body, caller }) =>
      success(
        await services.renameInstance({ caller, instanceGuid: body.instance_guid, newTitle: body.title }),
      ),
    '/slapos.put.v0.compute_node_format': async ({ body, caller }) =>
      success(
        await services.formatComputeNode({
          caller,
          format: formatFromJson({
            computer_guid: body.computer_guid,
            compute_partition_list: body.compute_partition_list,
          }),
        }),
      ),
    '/slapos.put.v0.compute_node_bang': async ({ body, caller }) =>
      success(
        await services.bangComputeNode({ caller, computeNodeId: body.computer_guid, message: body.message }),
      ),
    '/slapos.post.v0.compute_node_usage': async ({ body, caller }) =>
      success(
        await services.reportComputeNodeUsage({
          caller,
          computeNodeId: body.computer_guid,
          usageXml: body.tioxml,
        }),
      ),
    '/slapos.get.v0.compute_node_status': async ({ body, caller }) => ({
      text: await services.computeNodeStatus({ caller, computeNodeId: body.computer_guid }),
    }),
    '/slapos.post.v0.compute_node_certificate': ({ body, caller }) =>
      services.createComputeNodeCertificate({ caller, computeNodeId: body.computer_guid }),
    '/slapos.remove.v0.compute_node_certificate': async ({ body, caller }) =>
      success(await services.revokeComputeNodeCertificate({ caller, computeNodeId: body.computer_guid })),
    '/slapos.get.v0.software_instance_certificate': ({ body, caller }) =>
      services.instanceCertificate({ caller, instanceGuid: body.instance_guid }),
    // --- our extensions: master mode's registration and certificates ---
    '/slapos.post.ext.registration_token': async ({ body, caller }) => {
      const { token, expiresAt } = await services.createRegistrationToken({
        caller,
        expiresInSeconds: body.expires_in_s,
      });
      return { token, expires: new Date(expiresAt * 1000).toISOString() };
    },
    '/slapos.post.ext.compute_node_registration': async ({ body, caller }) => {
      const node = await services.registerComputeNode({
        caller,
        title: body.title,
        certificateRequest: body.certificate_request,
      });
      return {
        computer_guid: node.computeNodeId,
        certificate: node.certificatePem,
        ca_certificate: node.caCertificatePem,
      };
    },
    '/slapos.post.ext.compute_node_certificate_renewal': async ({ body, caller }) => ({
      certificate: (
        await services.renewComputeNodeCertificate({
          caller,
          computeNodeId: body.computer_guid,
          certificateRequest: body.certificate_request,
        })
      ).certificatePem,
    }),
    '/slapos.get.v0.hateoas_url': async ({ caller, origin }) => ({
      hateoas_url: await services.hateoasUrl({ caller, origin: origin() }),
    }),
    '/slapos.allDocs.WIP.compute_node_list': async ({ caller }) => ({
      result_list: (await services.listComputeNodes({ caller })).map((reference) => ({
        computer_guid: reference,
      })),
    }),
    // --- our extensions (slapos-extensions.json): who may deploy on a compute node ---
    '/slapos.put.ext.compute_node_allocation_scope': async ({ body, caller }) =>
      success(
        await services.updateComputeNodeAccess({
          caller,
          computeNodeId: body.computer_guid,
          allocationScope: body.allocation_scope,
          friends: body.friend_list,
        }),
      ),
    // --- our extensions: the change stream ---
    '/slapos.get.ext.compute_node_snapshot': async ({ body, caller }) => {
      const snapshot = await services.readNodeSnapshot({ caller, computeNodeId: body.computer_guid });
      return serializeOnce(snapshot, () => nodeSnapshotDocument(snapshot));
    },
    '/slapos.watch.ext.compute_node_revision': async ({ body, caller, signal }) => {
      const answer = await services.watchComputeNode({
        caller,
        computeNodeId: body.computer_guid,
        afterRevision: body.after_revision,
        timeoutMs: body.timeout_ms,
        signal: signal(),
      });
      return { computer_guid: body.computer_guid, ...answer };
    },
    // --- our extensions: promise results ---
    '/slapos.put.ext.software_instance_promise_result': async ({ body, caller }) =>
      success(
        await services.reportPromiseResults({
          caller,
          instanceGuid: body.instance_guid,
          results: body.result_list,
        }),
      ),
    '/slapos.get.ext.software_instance_promise_result': async ({ body, caller }) =>
      promiseResultsDocument(
        body.instance_guid,
        await services.readPromiseResults({ caller, instanceGuid: body.instance_guid }),
      ),
    // --- our extensions: what the nodes reported ---
    '/slapos.get.ext.software_instance_status': async ({ body, caller }) =>
      instanceStatusDocument(
        body.instance_guid,
        await services.readInstanceStatus({ caller, instanceGuid: body.instance_guid }),
      ),
    '/slapos.get.ext.compute_node_software_installation_status': async ({ body, caller }) =>
      softwareInstallationStatusDocument(
        body.computer_guid,
        await services.listSoftwareInstallationStatuses({ caller, computeNodeId: body.computer_guid }),
      ),
    // --- our extensions: invoicing ---
    '/slapos.get.ext.invoice_evidence': async ({ body, caller }) =>
      await services.readInvoiceEvidence({ caller, reference: body.invoice_id }),
    // --- our extensions: invoices (docs/invoicing.md) ---
    '/slapos.allDocs.ext.invoice_list': async ({ body, caller }) => ({
      result_list: await services.listInvoices({
        caller,
        ...(body.period !== undefined ? { period: body.period } : {}),
        ...(body.state !== undefined ? { state: body.state } : {}),
      }),
    }),
    '/slapos.get.ext.invoice': ({ body, caller }) =>
      services.getInvoice({ caller, reference: body.invoice_id }),
    // --- our extensions: backups and resilient trees (docs/resiliency.md) ---
    '/slapos.post.ext.backup_sync': async ({ body, caller }) =>
      backupSyncDocument(
        await services.syncBackups({
          caller,
          computeNodeId: body.computer_guid,
          repository: body.repository,
          partitions: backupSyncReports(body),
        }),
      ),
    '/slapos.post.ext.instance_takeover': async ({ body, caller }) => {
      const answer = await services.takeoverInstance({
        caller,
        title: body.title,
        clone: body.clone ?? null,
      });
      return {
        title: answer.title,
        compute_node_id: answer.computeNodeId,
        partition_id: answer.partitionId,
        epoch: answer.epoch,
      };
    },
    '/slapos.post.ext.instance_backup': async ({ body, caller }) => ({
      requested_at: (await services.requestBackup({ caller, title: body.title })).requestedAt,
    }),
    '/slapos.get.ext.instance_backup_list': async ({ body, caller }) =>
      backupListDocument(await services.listBackups({ caller, title: body.title })),
    '/slapos.post.ext.instance_restore': async ({ body, caller }) => ({
      request_id: (
        await services.requestRestore({
          caller,
          title: body.title,
          backupId: body.backup_id ?? null,
          into: body.into ?? null,
        })
      ).requestId,
    }),
  };
}

/** Serialises a memoized service result once (the bytes are what sendJson sends as they are). */
const jsonOnce = onceEncoder();

function serializeOnce(result: object, toBody: () => unknown): Buffer {
  return jsonOnce(result, () => JSON.stringify(toBody()));
}

/**
 * Sends a JSON body. A memoized answer (bytes, serializeOnce) goes gzip'd to a client that accepts it
 * (memoized-answers.ts); other answers are sent as they are.
 */
function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  // Bytes, so that fastify sends them as they are: slapproxy answers `application/json` without a
  // charset (clients compare it literally), and a memoized answer is encoded once, not per request.
  reply.code(status).header('content-type', 'application/json');
  if (!Buffer.isBuffer(body)) return reply.send(Buffer.from(JSON.stringify(body)));
  return sendMemoized(reply, body);
}

/** Registers the JSON API on a fastify instance (its content-type parsers, not-found and error handlers too). */
export function registerJsonApi(fastify: FastifyInstance, options: JsonApiOptions): void {
  const table = handlers(options.services) as Record<string, Handler<ApiPath>>;
  // The contract's paths, as the generated validators list them (no contract file read to start).
  const routes = REQUEST_PATHS.map((path) => {
    const handle = table[path];
    const validate = requestValidator(path);
    if (!handle) throw new Error(`no handler for ${path}`);
    if (!validate) throw new Error(`no request validator for ${path} (run npm run api:validators)`);
    return { path, handle, validate };
  });

  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', async (request: WithRawBody, payload: Readable) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(request.headers['content-type'] ?? '')?.[1];
    const chunks = await readBodyChunks(payload, { contentLength: request.headers['content-length'] });
    if (charset !== undefined && charset.toLowerCase() !== 'utf-8') {
      throw new SlapError('SLAP_ERR_INVALID_INPUT', 'The request body must be UTF-8 JSON (charset=utf-8).');
    }
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    if (size < LARGE_BODY_BYTES) {
      const text = decodeBody(joinChunks(chunks));
      request[RAW_BODY] = text;
      return parseJsonBody(text);
    }
    request[LARGE_BODY] = true;
    const text = await decodeLargeBody(chunks);
    request[RAW_BODY] = text;
    await setImmediate();
    return parseLargeJsonBody(text);
  });
  // Any other type is refused too, but only once its body is read: an answer sent while the client
  // is still sending can be lost to a connection reset.
  fastify.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    await readBody(payload, { contentLength: request.headers['content-length'] });
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      'The request body must be JSON (Content-Type: application/json).',
    );
  });

  fastify.setErrorHandler((error, request, reply) => {
    const httpError = toHttpError(error);
    if (httpError.status === 401) reply.header('www-authenticate', BEARER_CHALLENGE);
    if (httpError.internal) options.logger.error({ err: error, url: request.url }, 'request failed');
    else
      options.logger.debug(
        { url: request.url, status: httpError.status, title: httpError.body.title },
        'request refused',
      );
    return sendJson(reply, httpError.status, httpError.body);
  });

  const knownPaths = new Set(options.routes === false ? [] : REQUEST_PATHS);
  fastify.setNotFoundHandler(async (request, reply) => {
    await readUnparsedBody(request);
    const path = request.url.split('?')[0] ?? '';
    if (knownPaths.has(path)) {
      return sendJson(
        reply.header('allow', 'POST'),
        405,
        errorBody(405, `Method ${request.method} is not allowed on ${path}; use POST.`),
      );
    }
    return sendJson(reply, 404, errorBody(404, `No such path: ${path}`));
  });

  if (options.routes !== false) {
    let extensionSpec: string | undefined;
    fastify.get(EXTENSION_SPEC_URL_PATH, async (request, reply) => {
      await readUnparsedBody(request);
      extensionSpec ??= apiSpecText('slapos-extensions.json');
      return reply.code(200).header('content-type', 'application/json').send(extensionSpec);
    });
  }

  for (const { path, handle, validate } of options.routes === false ? [] : routes) {
    fastify.post(path, async (request: WithRawBody, reply) => {
      if (!acceptsJson(request.headers.accept)) {
        throw new SlapError('SLAP_ERR_NOT_ACCEPTABLE', 'This API answers application/json only.');
      }
      const body = request.body;
      validate(body);
      // A large body: each step in its own event-loop turn (request-body.ts, LARGE_BODY_BYTES).
      const large = request[LARGE_BODY] === true;
      if (large) await setImmediate();
      let pythonBody: unknown;
      let gone: AbortController | undefined;
      const onClose = (): void => gone?.abort();
      try {
        const result = await handle({
          body: body as never,
          caller: callerOf(request),
          origin: () => requestOrigin(request, options.fallbackHost()),
          pythonBody: () => (pythonBody ??= parsePythonJson(request[RAW_BODY] ?? 'null', body)) as never,
          requester: () => requesterOf(request.headers, { refused: options.mode === 'master' }),
          signal: () => {
            if (!gone) {
              gone = new AbortController();
              request.raw.socket.once('close', onClose);
            }
            return gone.signal;
          },
        });
        if (large) await setImmediate();
        return sendJson(reply, 200, result);
      } finally {
        if (gone) request.raw.socket.off('close', onClose);
      }
    });
  }
}
