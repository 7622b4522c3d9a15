/**
 * The IdentityRepository (identity-repository.ts) written once for every SQL store, merged by
 * kysely-repository.ts into the repository. It runs inside the store's transactions, through its
 * SqlExecutor.
 */
import type { Kysely, Selectable } from 'kysely';
import { SlapError } from '../../core/errors.ts';
import type {
  AllocationScope,
  CertificateKind,
  CertificateRecord,
  ComputeNodeAccess,
  ComputeNodeListing,
  IdentityRepository,
  PanelSessionRecord,
  RegistrationTokenRecord,
  UserRecord,
} from './identity-repository.ts';
import { param } from './query-params.ts';
import type { CertificateTable, MasterDatabase, UserTable } from './schema.ts';
import { constraintViolation, type SqlExecutor } from './sql-executor.ts';

/**
 * The reference a registered compute node holds until its row id is known, inside the same
 * statement sequence: no committed reference can equal it (references never hold control
 * characters, core/text-rules.ts). Not NUL: PostgreSQL's text cannot hold it.
 */
const REGISTERING = '\u0001registering';

type UserRow = Selectable<UserTable>;

function toUser(row: UserRow): UserRecord {
  return { name: row.name, admin: row.admin === 1, disabled: row.disabled === 1, createdAt: row.created_at };
}

type CertificateRow = Selectable<CertificateTable>;

function toCertificate(row: CertificateRow): CertificateRecord {
  return {
    serial: row.serial,
    kind: row.kind,
    subject: row.subject,
    notAfter: row.not_after,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
  };
}

type NodeAccessRow = {
  reference: string;
  owner: string | null;
  title: string | null;
  allocation_scope: AllocationScope;
  revoked_at: number | null;
};

function toAccess(row: NodeAccessRow, friends: string[]): ComputeNodeAccess {
  return {
    reference: row.reference,
    owner: row.owner,
    allocationScope: row.allocation_scope,
    friends,
    revokedAt: row.revoked_at,
  };
}

/**
 * Runs `write`, turning a constraint failure into the SlapError the interface promises. Messages
 * name no value: a token digest is still a secret's fingerprint.
 */
async function guarded<T>(
  write: () => Promise<T>,
  messages: { unique?: string; missing?: string },
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const kind = constraintViolation(error);
    if (kind === 'unique' && messages.unique) {
      throw new SlapError('SLAP_ERR_CONFLICT', messages.unique, { cause: error });
    }
    if (kind === 'foreign key' && messages.missing) {
      throw new SlapError('SLAP_ERR_NOT_FOUND', messages.missing, { cause: error });
    }
    throw error;
  }
}

export function createKyselyIdentityRepository(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
): IdentityRepository {
  const { all, get, run, insert } = executor;

  const selectUsers = () => db.selectFrom('user').select(['name', 'admin', 'disabled', 'created_at']);
  const selectCertificates = () =>
    db
      .selectFrom('certificate')
      .select(['serial', 'kind', 'subject', 'not_after', 'revoked_at', 'created_at']);
  const selectNodeAccess = () =>
    db.selectFrom('compute_node').select(['reference', 'owner', 'title', 'allocation_scope', 'revoked_at']);

  const friendsOf = async (reference: string): Promise<string[]> =>
    (
      await all<{ user: string }>(
        'identities:friendsOf',
        () =>
          db
            .selectFrom('compute_node_friend')
            .select('user')
            .where('compute_node_reference', '=', param('node'))
            .orderBy('user'),
        { node: reference },
      )
    ).map((row) => row.user);

  const listCertificates: IdentityRepository['listCertificates'] = async (filter = {}) => {
    const byKind = filter.kind !== undefined;
    const bySubject = filter.subject !== undefined;
    const rows = await all<CertificateRow>(
      `identities:listCertificates:${byKind ? 'kind' : ''}:${bySubject ? 'subject' : ''}`,
      () => {
        let select = selectCertificates();
        if (byKind) select = select.where('kind', '=', param<CertificateKind>('kind'));
        if (bySubject) select = select.where('subject', '=', param('subject'));
        return select.orderBy('created_at').orderBy('serial');
      },
      { kind: filter.kind, subject: filter.subject },
    );
    return rows.map(toCertificate);
  };

  const registerComputeNode: IdentityRepository['registerComputeNode'] = async ({ owner, title, now }) => {
    // A reference COMP-n may already exist (a node named so by hand in proxy mode): the row is
    // dropped and inserted again, with a higher id (AUTOINCREMENT never reuses one).
    for (;;) {
      const id = await guarded(
        () =>
          insert(
            'identities:registerComputeNode',
            () =>
              db.insertInto('compute_node').values({
                reference: REGISTERING,
                owner: param('owner'),
                title: param('title'),
                allocation_scope: 'personal',
                created_at: param<number>('now'),
              }),
            { owner, title, now },
          ),
        { missing: 'the owner of the compute node is not a user' },
      );
      const reference = `COMP-${id}`;
      try {
        await executor.recoverable(() =>
          run(
            'identities:nameComputeNode',
            () =>
              db
                .updateTable('compute_node')
                .set({ reference: param('reference') })
                .where('id', '=', param<number>('id')),
            { reference, id },
          ),
        );
        return reference;
      } catch (error) {
        if (constraintViolation(error) !== 'unique') throw error;
        await run(
          'identities:dropRegisteringNode',
          () => db.deleteFrom('compute_node').where('id', '=', param<number>('id')),
          { id },
        );
      }
    }
  };

  return {
    getUser: async (name) => {
      const row = await get<UserRow>(
        'identities:getUser',
        () => selectUsers().where('name', '=', param('name')),
        {
          name,
        },
      );
      return row && toUser(row);
    },
    listUsers: async () =>
      (await all<UserRow>('identities:listUsers', () => selectUsers().orderBy('name'))).map(toUser),
    insertUser: async ({ name, admin, now }) => {
      await guarded(
        () =>
          run(
            'identities:insertUser',
            () =>
              db.insertInto('user').values({
                name: param('name'),
                admin: param<number>('admin'),
                disabled: 0,
                created_at: param<number>('now'),
              }),
            { name, admin: admin ? 1 : 0, now },
          ),
        { unique: `the user ${JSON.stringify(name)} already exists` },
      );
    },
    setUserDisabled: async (name, disabled) =>
      (await run(
        'identities:setUserDisabled',
        () =>
          db
            .updateTable('user')
            .set({ disabled: param<number>('disabled') })
            .where('name', '=', param('name')),
        { name, disabled: disabled ? 1 : 0 },
      )) === 1,
    insertUserToken: async ({ tokenHash, user, now }) => {
      await guarded(
        () =>
          run(
            'identities:insertUserToken',
            () =>
              db.insertInto('user_token').values({
                token_hash: param('hash'),
                user: param('user'),
                created_at: param<number>('now'),
              }),
            { hash: tokenHash, user, now },
          ),
        { unique: 'this token is already stored', missing: `no such user: ${JSON.stringify(user)}` },
      );
    },
    deleteUserTokens: async ({ user, except }) =>
      await run(
        'identities:deleteUserTokens',
        () =>
          db
            .deleteFrom('user_token')
            .where('user', '=', param('user'))
            .where('token_hash', '!=', param('except')),
        { user, except: except ?? '' },
      ),
    findUserByTokenHash: async (tokenHash) => {
      const row = await get<UserRow>(
        'identities:findUserByTokenHash',
        () =>
          db
            .selectFrom('user_token as t')
            .innerJoin('user as u', 'u.name', 't.user')
            .select(['u.name', 'u.admin', 'u.disabled', 'u.created_at'])
            .where('t.token_hash', '=', param('hash')),
        { hash: tokenHash },
      );
      return row && toUser(row);
    },

    insertPanelSession: async (record) => {
      await run(
        'identities:insertPanelSession',
        () =>
          db.insertInto('panel_session').values({
            session_hash: param('hash'),
            user: param('user'),
            created_at: param<number>('createdAt'),
            expires_at: param<number>('expiresAt'),
          }),
        {
          hash: record.sessionHash,
          user: record.user,
          createdAt: record.createdAt,
          expiresAt: record.expiresAt,
        },
      );
    },
    getPanelSession: async (sessionHash) =>
      await get<PanelSessionRecord>(
        'identities:getPanelSession',
        () =>
          db
            .selectFrom('panel_session')
            .select([
              'session_hash as sessionHash',
              'user',
              'created_at as createdAt',
              'expires_at as expiresAt',
            ])
            .where('session_hash', '=', param('hash')),
        { hash: sessionHash },
      ),
    deletePanelSession: async (sessionHash) => {
      await run(
        'identities:deletePanelSession',
        () => db.deleteFrom('panel_session').where('session_hash', '=', param('hash')),
        { hash: sessionHash },
      );
    },
    deleteExpiredPanelSessions: async (now) =>
      await run(
        'identities:deleteExpiredPanelSessions',
        () => db.deleteFrom('panel_session').where('expires_at', '<=', param<number>('now')),
        { now },
      ),

    insertRegistrationToken: async (record) => {
      await guarded(
        () =>
          run(
            'identities:insertRegistrationToken',
            () =>
              db.insertInto('registration_token').values({
                token_hash: param('hash'),
                owner: param('owner'),
                expires_at: param<number>('expiresAt'),
                used_at: param<number | null>('usedAt'),
                created_at: param<number>('createdAt'),
              }),
            {
              hash: record.tokenHash,
              owner: record.owner,
              expiresAt: record.expiresAt,
              usedAt: record.usedAt,
              createdAt: record.createdAt,
            },
          ),
        {
          unique: 'this registration token is already stored',
          missing: `no such user: ${JSON.stringify(record.owner)}`,
        },
      );
    },
    getRegistrationToken: async (tokenHash) =>
      await get<RegistrationTokenRecord>(
        'identities:getRegistrationToken',
        () =>
          db
            .selectFrom('registration_token')
            .select([
              'token_hash as tokenHash',
              'owner',
              'expires_at as expiresAt',
              'used_at as usedAt',
              'created_at as createdAt',
            ])
            .where('token_hash', '=', param('hash')),
        { hash: tokenHash },
      ),
    markRegistrationTokenUsed: async (tokenHash, now) =>
      (await run(
        'identities:markRegistrationTokenUsed',
        () =>
          db
            .updateTable('registration_token')
            .set({ used_at: param<number>('now') })
            .where('token_hash', '=', param('hash'))
            .where('used_at', 'is', null),
        { hash: tokenHash, now },
      )) === 1,

    undoComputeNodeRegistration: async ({ reference, tokenHash }) => {
      await run(
        'identities:deleteRegisteredComputeNode',
        () => db.deleteFrom('compute_node').where('reference', '=', param('node')),
        { node: reference },
      );
      await run(
        'identities:releaseRegistrationToken',
        () =>
          db.updateTable('registration_token').set({ used_at: null }).where('token_hash', '=', param('hash')),
        { hash: tokenHash },
      );
    },

    insertCertificate: async (record) => {
      await guarded(
        () =>
          run(
            'identities:insertCertificate',
            () =>
              db.insertInto('certificate').values({
                serial: param('serial'),
                kind: param<CertificateKind>('kind'),
                subject: param('subject'),
                not_after: param<number>('notAfter'),
                revoked_at: param<number | null>('revokedAt'),
                created_at: param<number>('createdAt'),
              }),
            {
              serial: record.serial,
              kind: record.kind,
              subject: record.subject,
              notAfter: record.notAfter,
              revokedAt: record.revokedAt,
              createdAt: record.createdAt,
            },
          ),
        { unique: `a certificate with serial ${record.serial} is already stored` },
      );
    },
    getCertificate: async (serial) => {
      const row = await get<CertificateRow>(
        'identities:getCertificate',
        () => selectCertificates().where('serial', '=', param('serial')),
        { serial },
      );
      return row && toCertificate(row);
    },
    listCertificates,
    revokeCertificates: async ({ kind, subject, now }) =>
      await run(
        'identities:revokeCertificates',
        () =>
          db
            .updateTable('certificate')
            .set({ revoked_at: param<number>('now') })
            .where('kind', '=', param<CertificateKind>('kind'))
            .where('subject', '=', param('subject'))
            .where('revoked_at', 'is', null),
        { kind, subject, now },
      ),

    registerComputeNode,
    listOwnedComputeNodeAccess: async (owner) => {
      const rows = await all<NodeAccessRow>(
        'identities:listOwnedComputeNodeAccess',
        () => selectNodeAccess().where('owner', '=', param('owner')).orderBy('id'),
        { owner },
      );
      const owned: ComputeNodeAccess[] = [];
      for (const row of rows) owned.push(toAccess(row, await friendsOf(row.reference)));
      return owned;
    },
    getComputeNodeAccess: async (reference) => {
      const row = await get<NodeAccessRow>(
        'identities:getComputeNodeAccess',
        () => selectNodeAccess().where('reference', '=', param('node')),
        { node: reference },
      );
      return row && toAccess(row, await friendsOf(reference));
    },
    setComputeNodeAccess: async (reference, access) => {
      const exists = await get<{ reference: string }>(
        'identities:computeNodeExists',
        () => db.selectFrom('compute_node').select('reference').where('reference', '=', param('node')),
        { node: reference },
      );
      if (!exists) return false;
      if (access.allocationScope !== undefined) {
        await run(
          'identities:setAllocationScope',
          () =>
            db
              .updateTable('compute_node')
              .set({ allocation_scope: param<AllocationScope>('scope') })
              .where('reference', '=', param('node')),
          { node: reference, scope: access.allocationScope },
        );
      }
      if (access.friends !== undefined) {
        await run(
          'identities:clearFriends',
          () => db.deleteFrom('compute_node_friend').where('compute_node_reference', '=', param('node')),
          { node: reference },
        );
        for (const user of new Set(access.friends)) {
          await guarded(
            () =>
              run(
                'identities:insertFriend',
                () =>
                  db
                    .insertInto('compute_node_friend')
                    .values({ compute_node_reference: param('node'), user: param('user') }),
                { node: reference, user },
              ),
            { missing: `the friend ${JSON.stringify(user)} is not a user` },
          );
        }
      }
      return true;
    },
    setComputeNodeRevoked: async (reference, now) =>
      (await run(
        'identities:setComputeNodeRevoked',
        () =>
          db
            .updateTable('compute_node')
            .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(param<number>('now'))) }))
            .where('reference', '=', param('node')),
        { node: reference, now },
      )) === 1,
    listComputeNodeAccess: async () => {
      const friends = new Map<string, string[]>();
      const friendRows = await all<{ node: string; user: string }>('identities:listFriends', () =>
        db
          .selectFrom('compute_node_friend')
          .select(['compute_node_reference as node', 'user'])
          .orderBy('compute_node_reference')
          .orderBy('user'),
      );
      for (const row of friendRows) {
        const list = friends.get(row.node);
        if (list) list.push(row.user);
        else friends.set(row.node, [row.user]);
      }
      const nodes = await all<NodeAccessRow>('identities:listComputeNodeAccess', () =>
        selectNodeAccess().orderBy('id'),
      );
      return nodes.map((row): ComputeNodeListing => ({
        ...toAccess(row, friends.get(row.reference) ?? []),
        title: row.title,
      }));
    },
  };
}
