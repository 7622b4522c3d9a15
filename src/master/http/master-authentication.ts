/**
 * Master mode's Authenticator: who a request proves to be, by the TLS client certificate the TLS
 * layer verified against the master's CA, else by its bearer token.
 *
 * A certificate counts only if the store knows its serial, has not revoked it, it has not expired,
 * and its subject (`CN=<id>, O=<kind>`) is the one the master recorded when issuing it; then a user
 * certificate is the user (unless disabled), a compute node's the node (unless revoked), an
 * instance's the instance (`SOFTINST-<id>`, with its owner and partition). A bearer token is a user's
 * API token (user not disabled) or a registration token (not expired, not used yet). Tokens are looked
 * up by their SHA-256 digest. Anything else is anonymous, with the precise reason as the 401's title
 * (never a credential).
 */
import { timingSafeEqual } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Clock } from '../../core/clock.ts';
import { accessTokenHash } from '../../lib/access-token.ts';
import type { Caller } from '../services/caller.ts';
import { masterNaming } from '../services/instance-naming.ts';
import type { RegistrationTokenRecord, UserRecord } from '../storage/identity-repository.ts';
import type { MasterStore, Repository } from '../storage/repository.ts';
import {
  bearerHeaderProblem,
  presentedToken,
  refused,
  type Authentication,
  type AuthenticationRequest,
  type Authenticator,
} from './authentication.ts';

/** What the TLS layer says of a certificate it could not verify, in words for the 401. */
const TLS_REFUSALS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'the client certificate has expired',
  CERT_NOT_YET_VALID: 'the client certificate is not valid yet',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the client certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the client certificate is not issued by this master',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the client certificate is not issued by this master',
  UNABLE_TO_GET_ISSUER_CERT: 'the client certificate is not issued by this master',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the client certificate is not issued by this master',
  CERT_SIGNATURE_FAILURE: 'the client certificate signature does not verify',
};

type Identified = Exclude<Caller, { kind: 'anonymous' | 'local' }>;
type Outcome = Identified | string;

function certificateRefusal(reason: string): Authentication {
  return refused(`Client certificate refused: ${reason}.`, true);
}

/** The one value of a subject attribute (undefined when missing or given several times). */
function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** What a client certificate claims: its serial (lower-case hex) and subject's CN and O. */
interface PeerClaims {
  serial: string;
  commonName: string | undefined;
  organization: string | undefined;
  /** The memoized outcome's key: every claim it depends on (as JSON, so no subject forges another key). */
  memoKey: string;
}

function claimsOf(peer: PeerCertificate): PeerClaims {
  const serial = peer.serialNumber.toLowerCase();
  const commonName = single(peer.subject.CN);
  const organization = single(peer.subject.O);
  const memoKey = `authentication:certificate:${JSON.stringify([serial, organization ?? null, commonName ?? null])}`;
  return { serial, commonName, organization, memoKey };
}

/**
 * Each connection's peer claims, read once per TLS handshake: getPeerCertificate() builds the whole
 * certificate (fingerprints included) on every call. The entry is keyed by the handshake's Finished
 * message, which differs for every handshake, so a TLS 1.2 renegotiation (which may present another
 * certificate) is read again.
 */
const claimsByConnection = new WeakMap<object, { finished: Buffer; claims: PeerClaims | undefined }>();

/** The claims of a TLS connection's peer certificate, or undefined when there is none. */
function peerClaims(socket: AuthenticationRequest['socket']): PeerClaims | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== 'function') return undefined;
  const finished = typeof tls.getFinished === 'function' ? tls.getFinished() : undefined;
  const cached = finished && claimsByConnection.get(socket);
  if (cached && cached.finished.equals(finished)) return cached.claims;
  const peer = tls.getPeerCertificate();
  // Node gives an empty object when the client sent no certificate.
  const claims = peer && typeof peer.serialNumber === 'string' ? claimsOf(peer) : undefined;
  if (finished) claimsByConnection.set(socket, { finished, claims });
  return claims;
}

async function certificateCaller(repository: Repository, peer: PeerClaims, now: number): Promise<Outcome> {
  const record = await repository.getCertificate(peer.serial);
  if (!record) return 'this master has no record of it';
  if (record.revokedAt !== null) return 'it has been revoked';
  if (record.notAfter <= now) return 'it has expired';
  if (record.kind !== peer.organization || record.subject !== peer.commonName)
    return 'its subject is not the one this master issued';
  switch (record.kind) {
    case 'user': {
      const user = await repository.getUser(record.subject);
      if (!user) return 'its user does not exist';
      if (user.disabled) return 'its user is disabled';
      return { kind: 'user', userId: user.name, admin: user.admin };
    }
    case 'compute_node': {
      const access = await repository.getComputeNodeAccess(record.subject);
      if (!access) return 'its compute node does not exist';
      if (access.revokedAt !== null) return 'its compute node has been revoked';
      return { kind: 'compute_node', computeNodeId: record.subject };
    }
    case 'instance': {
      let instance;
      try {
        instance = await masterNaming.find(repository, record.subject);
      } catch {
        return 'its subject is not an instance';
      }
      if (!instance) return 'its instance does not exist';
      if (!instance.location) return 'its instance has no partition';
      return {
        kind: 'instance',
        instanceId: instance.id,
        owner: instance.owner,
        computeNodeId: instance.location.computeNodeId,
        partitionId: instance.location.partitionId,
      };
    }
  }
}

/** What a bearer token's digest names in the store: a user's API token, or a registration token. */
interface TokenRecords {
  user: UserRecord | undefined;
  registration: RegistrationTokenRecord | undefined;
}

async function tokenRecords(repository: Repository, tokenHash: string): Promise<TokenRecords> {
  const user = await repository.findUserByTokenHash(tokenHash);
  return { user, registration: user ? undefined : await repository.getRegistrationToken(tokenHash) };
}

/** The caller a token's records make at `now` (a registration token expires). */
function tokenCaller({ user, registration }: TokenRecords, tokenHash: string, now: number): Outcome {
  if (user) {
    if (user.disabled) return 'The user of this token is disabled.';
    return { kind: 'user', userId: user.name, admin: user.admin };
  }
  if (registration && timingSafeEqual(Buffer.from(registration.tokenHash), Buffer.from(tokenHash))) {
    if (registration.usedAt !== null) return 'This registration token has already been used.';
    if (registration.expiresAt <= now) return 'This registration token has expired.';
    return { kind: 'registrant', userId: registration.owner, tokenHash };
  }
  return 'The access token is not valid for this master.';
}

export function masterAuthenticator(options: { store: MasterStore; clock: Clock }): Authenticator {
  const { store, clock } = options;
  return {
    async authenticate({ headers, socket }) {
      const identity = peerClaims(socket);
      if (identity) {
        const tls = socket as TLSSocket;
        if (!tls.authorized) {
          const code = String(tls.authorizationError ?? '');
          return certificateRefusal(TLS_REFUSALS[code] ?? 'the TLS layer could not verify it');
        }
        // Memoized until the next commit that may change it (another process's within 100 ms): a
        // revocation counts at once. A compute node's certificate depends only on its record, its
        // node's access (both changed by writes attributed to no node) and its node.
        const outcome = await store.memoizedRead(
          identity.memoKey,
          (repository) => certificateCaller(repository, identity, clock.now()),
          identity.organization === 'compute_node' && identity.commonName !== undefined
            ? { computeNodeId: identity.commonName }
            : {},
        );
        return typeof outcome === 'string' ? certificateRefusal(outcome) : { caller: outcome };
      }
      if (headers.authorization === undefined)
        return refused(
          'This master requires a client certificate or the header Authorization: Bearer <token>.',
          false,
        );
      const token = presentedToken(headers);
      if (token === undefined) return refused(bearerHeaderProblem(headers) ?? '', true);
      const tokenHash = accessTokenHash(token);
      // Memoized until a write of no compute node (users, tokens) commits: the store's records, not
      // the outcome, which depends on the time.
      const records = await store.memoizedRead(
        `authentication:token:${tokenHash}`,
        (repository) => tokenRecords(repository, tokenHash),
        { nodeless: true },
      );
      const outcome = tokenCaller(records, tokenHash, clock.now());
      return typeof outcome === 'string' ? refused(outcome, true) : { caller: outcome };
    },
  };
}
