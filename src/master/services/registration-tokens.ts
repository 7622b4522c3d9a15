/**
 * A user's registration tokens (master mode), as the panel lists them, and their revocation: a
 * revoked token is deleted, so it no longer authenticates anyone (its holder's registration is
 * refused as with an unknown token). Tokens are named by their digest (the `id`), never by the token
 * itself, which only its creator saw once.
 */
import { SlapError } from '../../core/errors.ts';
import { audit } from './audit.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { requireCertificateAuthority } from './node-registration.ts';

export interface RegistrationTokenItem {
  /** The token's SHA-256 digest (hex): names it for revocation, reveals nothing of the token. */
  id: string;
  /** Float seconds. */
  createdAt: number;
  expiresAt: number;
  /** When it registered a compute node; null while unused. */
  usedAt: number | null;
}

function requireUser(caller: Caller): string {
  if (caller.kind !== 'user')
    throw new SlapError('SLAP_ERR_FORBIDDEN', 'Only a user has registration tokens.');
  return caller.userId;
}

/** The caller's registration tokens, newest first. */
export async function listRegistrationTokens(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<RegistrationTokenItem[]> {
  return context.store.read(async (repository) => {
    await context.authorize(input.caller, 'registration_token.list', { kind: 'master' }, repository);
    requireCertificateAuthority(context, 'registration tokens');
    const tokens = await repository.listRegistrationTokens(requireUser(input.caller));
    return tokens.map((token) => ({
      id: token.tokenHash,
      createdAt: token.createdAt,
      expiresAt: token.expiresAt,
      usedAt: token.usedAt,
    }));
  });
}

/** Revokes one of the caller's registration tokens; an unknown id (or another user's) is not found. */
export async function revokeRegistrationToken(
  context: ServiceContext,
  input: { caller: Caller; id: string },
): Promise<'Revoked'> {
  const owner = await context.store.write(async (repository) => {
    await context.authorize(input.caller, 'registration_token.revoke', { kind: 'master' }, repository);
    requireCertificateAuthority(context, 'registration tokens');
    const user = requireUser(input.caller);
    if (!(await repository.deleteRegistrationToken({ owner: user, tokenHash: input.id })))
      throw new SlapError('SLAP_ERR_NOT_FOUND', 'No such registration token.');
    return user;
  });
  audit(context.logger, 'registration_token.revoked', { user: owner });
  return 'Revoked';
}
