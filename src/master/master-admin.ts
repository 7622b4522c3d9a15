/**
 * The administration of a master in master mode, on its directory (`slapos master user …`,
 * `slapos master node …`): these open the database in DIR directly, so they work whether the
 * master runs or not (SQLite WAL: the running master sees their writes at once). Each change is
 * audited. An API token is returned once and only its digest is stored.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.ts';
import { SlapError } from '../core/errors.ts';
import { isUserName, USER_NAME_RULE } from '../core/user-name.ts';
import { accessTokenHash, createAccessToken } from '../lib/access-token.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { MASTER_DATABASE_FILE, openMasterCertificateAuthority } from './master-mode.ts';
import { audit } from './services/audit.ts';
import { recordIssuedCertificate } from './services/certificate-records.ts';
import { INSTANCE_CERTIFICATE_DAYS } from './services/instance-certificates.ts';
import type { ComputeNodeListing, UserRecord } from './storage/identity-repository.ts';
import type { MasterStore } from './storage/repository.ts';
import type { DatabaseLocation } from './storage/database-location.ts';
import { openMasterStore } from './storage/open-store.ts';

/** User certificates live as long as instance ones (a year). */
export const USER_CERTIFICATE_DAYS = INSTANCE_CERTIFICATE_DAYS;

export interface MasterAdminOptions {
  dir: string;
  /** The master's database (default the SQLite file DIR/master.db). */
  database?: DatabaseLocation | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
}

export interface MasterAdmin {
  addUser(user: { name: string; admin: boolean }): Promise<{ user: string; token: string }>;
  listUsers(): Promise<UserRecord[]>;
  disableUser(name: string): Promise<void>;
  /** A new API token for the user (shown once); with `revokeOthers` its other tokens stop working. */
  issueUserToken(
    name: string,
    options: { revokeOthers: boolean },
  ): Promise<{ user: string; token: string; revoked: number }>;
  issueUserCertificate(name: string): Promise<{ keyPem: string; certificatePem: string }>;
  listComputeNodes(): Promise<ComputeNodeListing[]>;
  revokeComputeNode(reference: string): Promise<{ certificatesRevoked: number }>;
  close(): Promise<void>;
}

function checkUserName(name: string): void {
  if (!isUserName(name))
    throw new SlapError('SLAP_ERR_USAGE', `invalid user name ${JSON.stringify(name)}`, {
      hint: `a user name is ${USER_NAME_RULE}`,
    });
}

/** The store of a master directory, opened for an administration command (the directory must exist). */
export async function openMasterDirectoryStore(
  options: Pick<MasterAdminOptions, 'dir' | 'database'> & { logger: Logger },
): Promise<MasterStore> {
  const { dir, logger } = options;
  try {
    await access(dir);
  } catch {
    throw new SlapError('SLAP_ERR_CONFIG', `the master directory ${dir} does not exist`, {
      hint: 'create it with `slapos master start --dir DIR`',
    });
  }
  return openMasterStore(options.database ?? { kind: 'sqlite', path: join(dir, MASTER_DATABASE_FILE) }, {
    logger,
    backgroundCheckpointAfter: Infinity,
  });
}

export async function openMasterAdmin(options: MasterAdminOptions): Promise<MasterAdmin> {
  const { dir } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const store = await openMasterDirectoryStore({ dir, database: options.database, logger });
  return {
    async addUser({ name, admin }) {
      checkUserName(name);
      const token = createAccessToken();
      const now = clock.now();
      await store.write(async (repository) => {
        if (await repository.getUser(name))
          throw new SlapError('SLAP_ERR_CONFLICT', `the user ${name} already exists`);
        await repository.insertUser({ name, admin, now });
        await repository.insertUserToken({ tokenHash: accessTokenHash(token), user: name, now });
      });
      audit(logger, 'user.created', { user: name, admin });
      return { user: name, token };
    },

    listUsers: () => store.read((repository) => repository.listUsers()),

    async disableUser(name) {
      const found = await store.write((repository) => repository.setUserDisabled(name, true));
      if (!found) throw new SlapError('SLAP_ERR_NOT_FOUND', `no user ${JSON.stringify(name)}`);
      audit(logger, 'user.disabled', { user: name });
    },

    async issueUserToken(name, { revokeOthers }) {
      checkUserName(name);
      const token = createAccessToken();
      const tokenHash = accessTokenHash(token);
      const now = clock.now();
      const revoked = await store.write(async (repository) => {
        if (!(await repository.getUser(name))) throw new SlapError('SLAP_ERR_NOT_FOUND', `no user ${name}`);
        await repository.insertUserToken({ tokenHash, user: name, now });
        return revokeOthers ? repository.deleteUserTokens({ user: name, except: tokenHash }) : 0;
      });
      audit(logger, 'user.token_issued', { user: name, revoked });
      return { user: name, token, revoked };
    },

    async issueUserCertificate(name) {
      checkUserName(name);
      const ca = await openMasterCertificateAuthority({ dir, clock, logger });
      const now = clock.now();
      const issued = await store.write(async (repository) => {
        const user = await repository.getUser(name);
        if (!user) throw new SlapError('SLAP_ERR_NOT_FOUND', `no user ${name}`);
        if (user.disabled) throw new SlapError('SLAP_ERR_FORBIDDEN', `the user ${name} is disabled`);
        const certificate = await ca.issueKeyAndCertificate({
          kind: 'user',
          id: name,
          validityDays: USER_CERTIFICATE_DAYS,
        });
        await recordIssuedCertificate(repository, certificate, { kind: 'user', subject: name, now });
        return certificate;
      });
      audit(logger, 'user.certificate_issued', { user: name, serial: issued.serial });
      return { keyPem: issued.keyPem, certificatePem: issued.certificatePem };
    },

    listComputeNodes: () => store.read((repository) => repository.listComputeNodeAccess()),

    async revokeComputeNode(reference) {
      const now = clock.now();
      const certificatesRevoked = await store.write(async (repository) => {
        if (!(await repository.setComputeNodeRevoked(reference, now)))
          throw new SlapError('SLAP_ERR_COMPUTE_NODE_NOT_FOUND', `${reference} is not registered.`);
        return repository.revokeCertificates({ kind: 'compute_node', subject: reference, now });
      });
      audit(logger, 'compute_node.revoked', { computeNode: reference, certificatesRevoked });
      return { certificatesRevoked };
    },

    close: () => store.close(),
  };
}
