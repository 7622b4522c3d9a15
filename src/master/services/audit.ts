/**
 * The audit log: one structured record per security event (registrations, renewals, revocations,
 * failed authentications; the denials are the master-mode authorizer's), on a child of the master's logger marked `audit: true` so that
 * it can be filtered out of the rest. Records name who and what, never a token, key or CSR.
 */
import type { Logger } from '../../lib/logger.ts';

export type AuditEvent =
  | 'authentication.failed'
  | 'registration_token.created'
  | 'registration_token.revoked'
  | 'compute_node.registered'
  | 'compute_node.certificate_renewed'
  | 'compute_node.revoked'
  | 'instance.certificate_issued'
  | 'user.created'
  | 'user.disabled'
  | 'user.certificate_issued'
  | 'user.token_issued'
  | 'panel.signed_in'
  /** The regularisation policy (regularisation.ts): a tree stopped, destroyed, restarted; an invoice marked. */
  | 'regularisation.stopped'
  | 'regularisation.destroyed'
  | 'regularisation.restarted'
  | 'regularisation.recorded'
  | 'price_list.set'
  | 'invoice.issued'
  | 'invoice.credit_note_issued'
  | 'invoice.paid';

const audits = new WeakMap<Logger, Logger>();

/** The audit log of `logger` (its child marked `audit: true`). */
export function auditLogger(logger: Logger): Logger {
  let child = audits.get(logger);
  if (!child) {
    child = logger.child({ audit: true });
    audits.set(logger, child);
  }
  return child;
}

/** Records a security event; `fields` must hold no secret. */
export function audit(logger: Logger, event: AuditEvent, fields: Record<string, unknown>): void {
  auditLogger(logger).info({ ...fields, event }, event);
}
