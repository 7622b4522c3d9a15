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
  /** Paths whose routes authenticate by themselves (the panel: its session cookie, its sign-in page). */
  selfAuthenticated?: (url: string) => boolean;
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

/** Registers the hook on the root instance: it runs for every route of every transport. */
export function registerAuthentication(fastify: FastifyInstance, options: AuthenticationOptions): void {
  const { failureLimiter, authenticator, logger, selfAuthenticated } = options;
  fastify.addHook('onRequest', async (request: WithCaller) => {
    if (selfAuthenticated?.(request.url)) return;
    const authentication = await authenticator.authenticate({
      headers: request.headers,
      socket: request.raw.socket,
      ip: request.ip,
    });
    if (authentication.refusal !== undefined) {
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
    request[CALLER] = authentication.caller;
  });
}
