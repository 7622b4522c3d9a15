/**
 * The SQLite implementation of IdentityRepository (identity-repository.ts), merged by
 * sqlite-store.ts into its repository object. It runs inside the store's transactions, on the
 * store's prepared statements.
 */
import type { Compilable, Kysely, Selectable } from 'kysely';
import { SlapError } from '../../core/errors.ts';
import type {
  AllocationScope,
  CertificateKind,
  CertificateRecord,
  ComputeNodeAccess,
  ComputeNodeListing,
  IdentityRepository,
  RegistrationTokenRecord,
  UserRecord,
} from './identity-repository.ts';
import { param, type QueryArgs } from './prepared.ts';
import type { CertificateTable, MasterDatabase, UserTable } from './schema.ts';

/** The store's prepared-statement helpers: a statement is built and compiled once per key. */
export interface StatementRunner {
  all: <Row>(key: string, build: () => Compilable, args?: QueryArgs) => Row[];
  get: <Row>(key: string, build: () => Compilable, args?: QueryArgs) => Row | undefined;
  run: (key: string, build: () => Compilable, args?: QueryArgs) => number;
  /** Runs an INSERT and returns the new rowid. */
  insert: (key: string, build: () => Compilable, args?: QueryArgs) => number;
}

/**
 * The reference a registered compute node holds until its row id is known, inside the same
 * statement sequence: no committed reference can equal it (references never hold NUL).
 */
const REGISTERING = '\u0000registering';

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

function constraint(error: unknown): 'unique' | 'foreign key' | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') return 'unique';
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return 'foreign key';
  return undefined;
}

/**
 * Runs `write`, turning a constraint failure into the SlapError the interface promises. Messages
 * name no value: a token digest is still a secret's fingerprint.
 */
function guarded<T>(write: () => T, messages: { unique?: string; missing?: string }): T {
  try {
    return write();
  } catch (error) {
    const kind = constraint(error);
    if (kind === 'unique' && messages.unique) {
      throw new SlapError('SLAP_ERR_CONFLICT', messages.unique, { cause: error });
    }
    if (kind === 'foreign key' && messages.missing) {
      throw new SlapError('SLAP_ERR_NOT_FOUND', messages.missing, { cause: error });
    }
    throw error;
  }
}

export function createSqliteIdentityRepository(
  db: Kysely<MasterDatabase>,
  statements: StatementRunner,
): IdentityRepository {
  const { all, get, run, insert } = statements;

  const selectUsers = () => db.selectFrom('user').select(['name', 'admin', 'disabled', 'created_at']);
  const selectCertificates = () =>
    db
      .selectFrom('certificate')
      .select(['serial', 'kind', 'subject', 'not_after', 'revoked_at', 'created_at']);
  const selectNodeAccess = () =>
    db.selectFrom('compute_node').select(['reference', 'owner', 'title', 'allocation_scope', 'revoked_at']);

  const friendsOf = (reference: string): string[] =>
    all<{ user: string }>(
      'identities:friendsOf',
      () =>
        db
          .selectFrom('compute_node_friend')
          .select('user')
          .where('compute_node_reference', '=', param('node'))
          .orderBy('user'),
      { node: reference },
    ).map((row) => row.user);

  const listCertificates: IdentityRepository['listCertificates'] = (filter = {}) => {
    const byKind = filter.kind !== undefined;
    const bySubject = filter.subject !== undefined;
    const rows = all<CertificateRow>(
      `identities:listCertificates:${byKind ? 'kind' : ''}:${bySubject ? 'subject' : ''}`,
      () => {
        let select = selectCertificates();
        if (byKind) select = select.where('kind', '=', param<CertificateKind>('kind'));
        if (bySubject) select = select.where('subject', '=', param('subject'));
        return select.orderBy('created_at').orderBy('serial');
      },
      { kind: filter.kind, subject: filter.subject },
    );
    return Promise.resolve(rows.map(toCertificate));
  };

  const registerComputeNode: IdentityRepository['registerComputeNode'] = ({ owner, title, now }) => {
    // A reference COMP-n may already exist (a node named so by hand in proxy mode): the row is
    // dropped and inserted again, with a higher id (AUTOINCREMENT never reuses one).
    for (;;) {
      const id = guarded(
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
        run(
          'identities:nameComputeNode',
          () =>
            db
              .updateTable('compute_node')
              .set({ reference: param('reference') })
              .where('id', '=', param<number>('id')),
          { reference, id },
        );
        return Promise.resolve(reference);
      } catch (error) {
        if (constraint(error) !== 'unique') throw error;
        run(
          'identities:dropRegisteringNode',
          () => db.deleteFrom('compute_node').where('id', '=', param<number>('id')),
          { id },
        );
      }
    }
  };

  return {
    getUser: (name) => {
      const row = get<UserRow>('identities:getUser', () => selectUsers().where('name', '=', param('name')), {
        name,
      });
      return Promise.resolve(row && toUser(row));
    },
    listUsers: () =>
      Promise.resolve(all<UserRow>('identities:listUsers', () => selectUsers().orderBy('name')).map(toUser)),
    insertUser: ({ name, admin, now }) => {
      guarded(
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
      return Promise.resolve();
    },
    setUserDisabled: (name, disabled) =>
      Promise.resolve(
        run(
          'identities:setUserDisabled',
          () =>
            db
              .updateTable('user')
              .set({ disabled: param<number>('disabled') })
              .where('name', '=', param('name')),
          { name, disabled: disabled ? 1 : 0 },
        ) === 1,
      ),
    insertUserToken: ({ tokenHash, user, now }) => {
      guarded(
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
      return Promise.resolve();
    },
    deleteUserTokens: ({ user, except }) =>
      Promise.resolve(
        run(
          'identities:deleteUserTokens',
          () =>
            db
              .deleteFrom('user_token')
              .where('user', '=', param('user'))
              .where('token_hash', '!=', param('except')),
          { user, except: except ?? '' },
        ),
      ),
    findUserByTokenHash: (tokenHash) => {
      const row = get<UserRow>(
        'identities:findUserByTokenHash',
        () =>
          db
            .selectFrom('user_token as t')
            .innerJoin('user as u', 'u.name', 't.user')
            .select(['u.name', 'u.admin', 'u.disabled', 'u.created_at'])
            .where('t.token_hash', '=', param('hash')),
        { hash: tokenHash },
      );
      return Promise.resolve(row && toUser(row));
    },

    insertRegistrationToken: (record) => {
      guarded(
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
      return Promise.resolve();
    },
    getRegistrationToken: (tokenHash) =>
      Promise.resolve(
        get<RegistrationTokenRecord>(
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
      ),
    markRegistrationTokenUsed: (tokenHash, now) =>
      Promise.resolve(
        run(
          'identities:markRegistrationTokenUsed',
          () =>
            db
              .updateTable('registration_token')
              .set({ used_at: param<number>('now') })
              .where('token_hash', '=', param('hash'))
              .where('used_at', 'is', null),
          { hash: tokenHash, now },
        ) === 1,
      ),

    undoComputeNodeRegistration: ({ reference, tokenHash }) => {
      run(
        'identities:deleteRegisteredComputeNode',
        () => db.deleteFrom('compute_node').where('reference', '=', param('node')),
        { node: reference },
      );
      run(
        'identities:releaseRegistrationToken',
        () =>
          db.updateTable('registration_token').set({ used_at: null }).where('token_hash', '=', param('hash')),
        { hash: tokenHash },
      );
      return Promise.resolve();
    },

    insertCertificate: (record) => {
      guarded(
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
      return Promise.resolve();
    },
    getCertificate: (serial) => {
      const row = get<CertificateRow>(
        'identities:getCertificate',
        () => selectCertificates().where('serial', '=', param('serial')),
        { serial },
      );
      return Promise.resolve(row && toCertificate(row));
    },
    listCertificates,
    revokeCertificates: ({ kind, subject, now }) =>
      Promise.resolve(
        run(
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
      ),

    registerComputeNode,
    getComputeNodeAccess: (reference) => {
      const row = get<NodeAccessRow>(
        'identities:getComputeNodeAccess',
        () => selectNodeAccess().where('reference', '=', param('node')),
        { node: reference },
      );
      return Promise.resolve(row && toAccess(row, friendsOf(reference)));
    },
    setComputeNodeAccess: (reference, access) => {
      const exists = get<{ reference: string }>(
        'identities:computeNodeExists',
        () => db.selectFrom('compute_node').select('reference').where('reference', '=', param('node')),
        { node: reference },
      );
      if (!exists) return Promise.resolve(false);
      if (access.allocationScope !== undefined) {
        run(
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
        run(
          'identities:clearFriends',
          () => db.deleteFrom('compute_node_friend').where('compute_node_reference', '=', param('node')),
          { node: reference },
        );
        for (const user of new Set(access.friends)) {
          guarded(
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
      return Promise.resolve(true);
    },
    setComputeNodeRevoked: (reference, now) =>
      Promise.resolve(
        run(
          'identities:setComputeNodeRevoked',
          () =>
            db
              .updateTable('compute_node')
              .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(param<number>('now'))) }))
              .where('reference', '=', param('node')),
          { node: reference, now },
        ) === 1,
      ),
    listComputeNodeAccess: () => {
      const friends = new Map<string, string[]>();
      const friendRows = all<{ node: string; user: string }>('identities:listFriends', () =>
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
      const nodes = all<NodeAccessRow>('identities:listComputeNodeAccess', () =>
        selectNodeAccess().orderBy('id'),
      );
      return Promise.resolve(
        nodes.map((row): ComputeNodeListing => ({
          ...toAccess(row, friends.get(row.reference) ?? []),
          title: row.title,
        })),
      );
    },
  };
}
