/**
 * The authentication both transports share (the JSON API and the legacy SLAP API): a fastify
 * `onRequest` hook that, on every path (unknown ones too), turns the request into a Caller before
 * anything is parsed or answered, and refuses anonymous callers with 401. Failed authentications
 * are audited and slowed down per address in master mode.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { audit } from '../services/audit.ts';
import type { Caller } from '../services/index.ts';
import type { Authenticator } from './authentication.ts';
import type { FailureLimiter } from './failure-limiter.ts';
import { readBody } from './request-body.ts';

export interface AuthenticationOptions {
  authenticator: Authenticator;
  /** Slows down the failed authentications of an address (master mode); failures are audited when set. */
  failureLimiter?: FailureLimiter | undefined;
  logger: Logger;
}

const CALLER = Symbol('caller');
type WithCaller = FastifyRequest & { [CALLER]?: Caller };

/** The caller the hook authenticated (a request that reaches a handler always has one). */
export function callerOf(request: FastifyRequest): Caller {
  const caller = (request as WithCaller)[CALLER];
  if (caller === undefined) throw new SlapError('SLAP_ERR_INTERNAL', 'request not authenticated');
  return caller;
}

/**
 * Reads (and drops) the body of a request no content-type parser read (GET and HEAD bodies), with the
 * same bounds as any body, before the answer is sent (see request-body.ts).
 */
export async function readUnparsedBody(request: FastifyRequest): Promise<void> {
  if (!request.raw.complete)
    await readBody(request.raw, { contentLength: request.headers['content-length'] });
}

/** Waits `ms` before answering a failed authentication, or less if the client goes away. */
async function slowDown(request: FastifyRequest, ms: number): Promise<void> {
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  request.raw.socket.once('close', onClose);
  try {
    await sleep(ms, undefined, { signal: gone.signal }).catch(() => undefined);
  } finally {
    request.raw.socket.off('close', onClose);
  }
}

/**
 * The caller a request proves to be by `authenticator`, or a 401 SlapError (after reading the body,
 * auditing and slowing down the failure as `options` say). For the hook below and for the routes
 * that authenticate their requests themselves (`selfAuthenticated`).
 */
export async function authenticateRequest(
  request: FastifyRequest,
  options: AuthenticationOptions,
): Promise<Caller> {
  const { failureLimiter, authenticator, logger } = options;
  const authentication = await authenticator.authenticate({
    headers: request.headers,
    socket: request.raw.socket,
    ip: request.ip,
  });
  if (authentication.refusal === undefined) return authentication.caller;
  // The body is read and dropped first (bounded), so that the client reads the 401, not a reset.
  await readUnparsedBody(request).catch(() => undefined);
  if (failureLimiter && authentication.failed) {
    audit(logger, 'authentication.failed', {
      address: request.ip,
      path: request.url.slice(0, 200),
      reason: authentication.refusal,
    });
    const delay = failureLimiter.fail(request.ip);
    if (delay > 0) await slowDown(request, delay);
  }
  throw new SlapError('SLAP_ERR_UNAUTHENTICATED', authentication.refusal);
}

/** Marks a request as made by `caller` (a self-authenticated route that authenticated it). */
export function setCaller(request: FastifyRequest, caller: Caller): void {
  (request as WithCaller)[CALLER] = caller;
}

/**
 * Registers the hook on the root instance: it runs for every route of every transport, except the
 * paths `selfAuthenticated` names (their routes call authenticateRequest with their own rules).
 */
export function registerAuthentication(
  fastify: FastifyInstance,
  options: AuthenticationOptions & { selfAuthenticated?: (path: string) => boolean },
): void {
  const { selfAuthenticated } = options;
  fastify.addHook('onRequest', async (request: WithCaller) => {
    if (selfAuthenticated?.(pathOf(request.url)) === true) return;
    request[CALLER] = await authenticateRequest(request, options);
  });
}

/** The path of a request URL (without its query). */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
