/**
 * Master mode's compute node life cycle: a user creates a one-time registration token; its holder
 * (the registrant) registers one compute node, which gets the id `COMP-<n>`, belongs to the token's
 * owner, and receives a certificate signed from its certificate request; the node then renews that
 * certificate itself over mutual TLS. The token is consumed in the same write transaction as the
 * node is created, so it registers one node at most even under concurrent calls. Certificates are
 * signed outside transactions (the store's transactions run one at a time).
 */
import { SlapError } from '../../core/errors.ts';
import { accessTokenHash, createAccessToken } from '../../lib/access-token.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import { audit } from './audit.ts';
import { recordIssuedCertificate } from './certificate-records.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';

export const REGISTRATION_TOKEN_DEFAULT_S = 3_600;
export const REGISTRATION_TOKEN_MIN_S = 60;
export const REGISTRATION_TOKEN_MAX_S = 30 * 86_400;
/** Compute node certificates are short-lived: the node renews them when a third remains. */
export const COMPUTE_NODE_CERTIFICATE_DAYS = 30;

/** The master's CA, or the refusal of a master without one (proxy mode). */
export function requireCertificateAuthority(context: ServiceContext, what: string): CertificateAuthority {
  if (context.mode !== 'master' || context.ca === undefined)
    throw new SlapError('SLAP_ERR_FORBIDDEN', `This master is in proxy mode: it has no ${what}.`);
  return context.ca;
}

export async function createRegistrationToken(
  context: ServiceContext,
  input: { caller: Caller; expiresInSeconds?: number | undefined },
): Promise<{ token: string; expiresAt: number }> {
  const lifetime = input.expiresInSeconds ?? REGISTRATION_TOKEN_DEFAULT_S;
  if (
    !Number.isSafeInteger(lifetime) ||
    lifetime < REGISTRATION_TOKEN_MIN_S ||
    lifetime > REGISTRATION_TOKEN_MAX_S
  )
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `A registration token lives from ${REGISTRATION_TOKEN_MIN_S} to ${REGISTRATION_TOKEN_MAX_S} seconds.`,
    );
  const token = createAccessToken();
  const now = context.clock.now();
  const expiresAt = now + lifetime;
  const owner = await context.store.write(async (repository) => {
    await context.authorize(input.caller, 'registration_token.create', { kind: 'master' }, repository);
    requireCertificateAuthority(context, 'compute node registration');
    if (input.caller.kind !== 'user')
      throw new SlapError('SLAP_ERR_FORBIDDEN', 'Only a user creates registration tokens.');
    await repository.insertRegistrationToken({
      tokenHash: accessTokenHash(token),
      owner: input.caller.userId,
      expiresAt,
      usedAt: null,
      createdAt: now,
    });
    return input.caller.userId;
  });
  audit(context.logger, 'registration_token.created', { user: owner, expiresAt });
  return { token, expiresAt };
}

export interface RegisteredComputeNode {
  computeNodeId: string;
  certificatePem: string;
  caCertificatePem: string;
}

export async function registerComputeNode(
  context: ServiceContext,
  input: { caller: Caller; title: string; certificateRequest: string },
): Promise<RegisteredComputeNode> {
  const { caller } = input;
  const now = context.clock.now();
  // The X.509 parser loads with the first registration (master mode), not with every master.
  const { checkCertificateRequest } = await import('../ca/csr.ts');
  const admitted = await context.store.write(async (repository) => {
    await context.authorize(caller, 'compute_node.register', { kind: 'master' }, repository);
    const ca = requireCertificateAuthority(context, 'compute node registration');
    if (caller.kind !== 'registrant')
      throw new SlapError(
        'SLAP_ERR_FORBIDDEN',
        'Only the holder of a registration token registers a compute node.',
      );
    // Checked before the token is consumed: a refused request leaves the token usable.
    checkCertificateRequest(input.certificateRequest, input.title);
    // Checked again here, serialised with every other write: the token works once.
    const token = await repository.getRegistrationToken(caller.tokenHash);
    if (
      !token ||
      token.expiresAt <= now ||
      !(await repository.markRegistrationTokenUsed(caller.tokenHash, now))
    )
      throw new SlapError(
        'SLAP_ERR_UNAUTHENTICATED',
        'This registration token has expired or has already been used.',
      );
    const computeNodeId = await repository.registerComputeNode({
      owner: token.owner,
      title: input.title,
      now,
    });
    return { ca, computeNodeId, owner: token.owner, tokenHash: caller.tokenHash };
  });
  const { ca, computeNodeId } = admitted;
  // Signed outside the transaction, so that the store serves the other requests meanwhile.
  const issued = await ca
    .signRequest(input.certificateRequest, {
      kind: 'compute_node',
      id: computeNodeId,
      expectedCommonName: input.title,
      validityDays: COMPUTE_NODE_CERTIFICATE_DAYS,
    })
    .catch(async (error: unknown) => {
      // No certificate: no node, and the token may be used again.
      await context.store.write((repository) =>
        repository.undoComputeNodeRegistration({ reference: computeNodeId, tokenHash: admitted.tokenHash }),
      );
      throw error;
    });
  await context.store.write((repository) =>
    recordIssuedCertificate(repository, issued, { kind: 'compute_node', subject: computeNodeId, now }),
  );
  const registered = { computeNodeId, owner: admitted.owner, serial: issued.serial };
  audit(context.logger, 'compute_node.registered', {
    computeNode: registered.computeNodeId,
    owner: registered.owner,
    serial: registered.serial,
  });
  return { computeNodeId, certificatePem: issued.certificatePem, caCertificatePem: ca.caCertificatePem };
}

/**
 * A compute node's new certificate, signed from its request (subject empty or its own id). Its
 * earlier certificates stay valid until they expire, so calls in flight with them still succeed.
 */
export async function renewComputeNodeCertificate(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; certificateRequest: string },
): Promise<{ certificatePem: string }> {
  const { computeNodeId } = input;
  const now = context.clock.now();
  const ca = await context.store.read(async (repository) => {
    // Only the compute node itself (the check point's rule).
    await context.authorize(
      input.caller,
      'compute_node.renew_certificate',
      { kind: 'compute_node', computeNodeId },
      repository,
    );
    return requireCertificateAuthority(context, 'compute node certificates');
  });
  // Signed outside any transaction, so that the store serves the other requests meanwhile.
  const issued = await ca.signRequest(input.certificateRequest, {
    kind: 'compute_node',
    id: computeNodeId,
    expectedCommonName: computeNodeId,
    validityDays: COMPUTE_NODE_CERTIFICATE_DAYS,
  });
  await context.store.write(async (repository) => {
    // Checked again: a node revoked meanwhile (its certificates revoked) gets none.
    if ((await repository.getComputeNodeAccess(computeNodeId))?.revokedAt !== null)
      throw new SlapError('SLAP_ERR_UNAUTHENTICATED', 'This compute node has been revoked.');
    await recordIssuedCertificate(repository, issued, { kind: 'compute_node', subject: computeNodeId, now });
  });
  audit(context.logger, 'compute_node.certificate_renewed', {
    computeNode: computeNodeId,
    serial: issued.serial,
    notAfter: issued.notAfter,
  });
  return { certificatePem: issued.certificatePem };
}
