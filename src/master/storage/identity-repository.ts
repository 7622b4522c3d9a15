/**
 * The identities of master mode in the storage boundary: users and their API tokens, registration
 * tokens, the certificates the master's CA issued, and who may use each compute node (owner,
 * allocation scope, friends). Proxy mode never reads these. Tokens are stored as their SHA-256
 * digest only (`tokenHash`); the master never stores private keys.
 */

import type { AllocationScope } from '../../core/allocation-scope.ts';

export { ALLOCATION_SCOPES, type AllocationScope } from '../../core/allocation-scope.ts';

export interface UserRecord {
  name: string;
  admin: boolean;
  disabled: boolean;
  /** Float seconds. */
  createdAt: number;
}

export type CertificateKind = 'user' | 'compute_node' | 'instance';

export const CERTIFICATE_KINDS: readonly CertificateKind[] = ['user', 'compute_node', 'instance'];

export interface CertificateRecord {
  /** Lowercase hex, as node:crypto's X509Certificate.serialNumber prints it. */
  serial: string;
  kind: CertificateKind;
  /** The user name, `COMP-n` or `SOFTINST-n`. */
  subject: string;
  notAfter: number;
  revokedAt: number | null;
  createdAt: number;
}

export interface RegistrationTokenRecord {
  tokenHash: string;
  /** The user whose compute node the token registers. */
  owner: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

export interface ComputeNodeAccess {
  reference: string;
  /** Null for a compute node that was not registered (proxy mode's, or one made by an admin). */
  owner: string | null;
  allocationScope: AllocationScope;
  /** User names, sorted. */
  friends: string[];
  revokedAt: number | null;
}

/** A compute node's access with its title (`master node list`). */
export interface ComputeNodeListing extends ComputeNodeAccess {
  title: string | null;
}

export interface PanelSessionRecord {
  /** SHA-256 of the session secret (hex). */
  sessionHash: string;
  /** The signed-in user; '' for proxy mode's local caller. */
  user: string;
  createdAt: number;
  expiresAt: number;
}

export interface IdentityRepository {
  // users and their API tokens
  getUser(name: string): Promise<UserRecord | undefined>;
  /** Every user, by name. */
  listUsers(): Promise<UserRecord[]>;
  /** Throws SLAP_ERR_CONFLICT when the name is taken. */
  insertUser(user: { name: string; admin: boolean; now: number }): Promise<void>;
  /** False when there is no such user. */
  setUserDisabled(name: string, disabled: boolean): Promise<boolean>;
  /** Throws SLAP_ERR_NOT_FOUND for an unknown user, SLAP_ERR_CONFLICT for a hash already stored. */
  insertUserToken(token: { tokenHash: string; user: string; now: number }): Promise<void>;
  /** Deletes the user's API tokens but `except` (a digest); returns how many. */
  deleteUserTokens(tokens: { user: string; except?: string }): Promise<number>;
  /** The token's user (disabled or not: the caller decides). */
  findUserByTokenHash(tokenHash: string): Promise<UserRecord | undefined>;

  // panel sessions
  insertPanelSession(record: PanelSessionRecord): Promise<void>;
  getPanelSession(sessionHash: string): Promise<PanelSessionRecord | undefined>;
  deletePanelSession(sessionHash: string): Promise<void>;
  /** Deletes the sessions expired at `now`; returns how many. */
  deleteExpiredPanelSessions(now: number): Promise<number>;

  // registration tokens (one compute node each)
  /** Throws SLAP_ERR_NOT_FOUND for an unknown owner, SLAP_ERR_CONFLICT for a hash already stored. */
  insertRegistrationToken(record: RegistrationTokenRecord): Promise<void>;
  getRegistrationToken(tokenHash: string): Promise<RegistrationTokenRecord | undefined>;
  /** Marks the token used; false when it was already used (or does not exist). Expiry is the caller's. */
  markRegistrationTokenUsed(tokenHash: string, now: number): Promise<boolean>;

  // certificates issued by the master's CA
  /** Throws SLAP_ERR_CONFLICT for a serial already stored. */
  insertCertificate(record: CertificateRecord): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  /** In issuing order. */
  listCertificates(filter?: { kind?: CertificateKind; subject?: string }): Promise<CertificateRecord[]>;
  /** Revokes the subject's certificates not revoked yet; returns how many. */
  revokeCertificates(target: { kind: CertificateKind; subject: string; now: number }): Promise<number>;

  // compute node ownership
  /**
   * Inserts a compute node owned by `owner` (scope personal) and returns the reference it was
   * given, `COMP-<row id>`. Throws SLAP_ERR_NOT_FOUND for an unknown owner.
   */
  registerComputeNode(node: { owner: string; title: string; now: number }): Promise<string>;
  /**
   * Undoes a registration whose certificate could not be issued: deletes the compute node (it has
   * never called: it had no certificate) and makes the token usable again.
   */
  undoComputeNodeRegistration(registration: { reference: string; tokenHash: string }): Promise<void>;
  getComputeNodeAccess(reference: string): Promise<ComputeNodeAccess | undefined>;
  /**
   * Sets the scope and/or replaces the friends with this list (duplicates collapse). False when
   * there is no such compute node; SLAP_ERR_NOT_FOUND when a friend is not a user.
   */
  setComputeNodeAccess(
    reference: string,
    access: { allocationScope?: AllocationScope; friends?: readonly string[] },
  ): Promise<boolean>;
  /** Marks the compute node revoked (its certificate no longer accepted); false when unknown. */
  setComputeNodeRevoked(reference: string, now: number): Promise<boolean>;
  /** Every compute node, in creation order. */
  listComputeNodeAccess(): Promise<ComputeNodeListing[]>;
  /** The compute nodes `owner` registered, in creation order. */
  listOwnedComputeNodeAccess(owner: string): Promise<ComputeNodeAccess[]>;
}
