/**
 * The database schema as an append-only list of migrations (Kysely Migrator). Never edit a
 * migration that has shipped: add a new one. Written with Kysely's schema builder so that a
 * PostgreSQL store can run the same list.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from '../../lib/kysely.ts';

const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('compute_node')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('reference', 'text', (c) => c.notNull().unique())
      .addColumn('address', 'text')
      .addColumn('netmask', 'text')
      .addColumn('bang_message', 'text')
      .addColumn('bang_at', 'double precision')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('partition')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('compute_node_reference', 'text', (c) =>
        c.notNull().references('compute_node.reference').onDelete('cascade'),
      )
      .addColumn('reference', 'text', (c) => c.notNull())
      .addColumn('slap_state', 'text', (c) => c.notNull().defaultTo('free'))
      .addColumn('timestamp', 'double precision')
      .addUniqueConstraint('partition_node_reference', ['compute_node_reference', 'reference'])
      .execute();
    await db.schema
      .createIndex('partition_node_state')
      .on('partition')
      .columns(['compute_node_reference', 'slap_state'])
      .execute();

    await db.schema
      .createTable('partition_address')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('compute_node_reference', 'text', (c) => c.notNull())
      .addColumn('partition_reference', 'text', (c) => c.notNull())
      .addColumn('network_interface', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('netmask', 'text')
      .addForeignKeyConstraint(
        'partition_address_partition',
        ['compute_node_reference', 'partition_reference'],
        'partition',
        ['compute_node_reference', 'reference'],
        (c) => c.onDelete('cascade'),
      )
      .execute();
    await db.schema
      .createIndex('partition_address_partition_index')
      .on('partition_address')
      .columns(['compute_node_reference', 'partition_reference'])
      .execute();

    await db.schema
      .createTable('software_installation')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('compute_node_reference', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('requested_state', 'text', (c) => c.notNull())
      .addColumn('reported_state', 'text')
      .addColumn('reported_at', 'double precision')
      .addColumn('error_message', 'text')
      .addColumn('error_at', 'double precision')
      .addUniqueConstraint('software_installation_node_url', ['compute_node_reference', 'url'])
      .execute();

    await db.schema
      .createTable('instance')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('shared', 'integer', (c) => c.notNull())
      .addColumn('software_release', 'text', (c) => c.notNull())
      .addColumn('software_type', 'text', (c) => c.notNull())
      .addColumn('parameter_xml', 'text', (c) => c.notNull())
      .addColumn('shared_parameters_json', 'text')
      .addColumn('sla_json', 'text', (c) => c.notNull())
      .addColumn('requested_state', 'text', (c) => c.notNull())
      .addColumn('connection_xml', 'text')
      .addColumn('compute_node_reference', 'text')
      .addColumn('partition_reference', 'text')
      .addColumn('host_position', 'integer')
      .addColumn('reported_state', 'text')
      .addColumn('reported_at', 'double precision')
      .addColumn('error_message', 'text')
      .addColumn('error_at', 'double precision')
      .addColumn('bang_message', 'text')
      .addColumn('bang_at', 'double precision')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .addColumn('updated_at', 'double precision', (c) => c.notNull())
      .addUniqueConstraint('instance_identity', ['title', 'requested_by', 'shared'])
      .addForeignKeyConstraint(
        'instance_partition',
        ['compute_node_reference', 'partition_reference'],
        'partition',
        ['compute_node_reference', 'reference'],
        (c) => c.onDelete('cascade'),
      )
      .execute();
    await db.schema
      .createIndex('instance_partition_index')
      .on('instance')
      .columns(['compute_node_reference', 'partition_reference', 'shared'])
      .execute();
    await db.schema.createIndex('instance_requested_by').on('instance').columns(['requested_by']).execute();
  },
};

/**
 * The change stream (docs/master.md, "Change stream"): a revision per compute node, bumped in the
 * transaction of every change its node must act on; a serial per partition, bumped when something its
 * instance consumes changed without a timestamp bump (a child's connection parameters); and the
 * partition that requested each instance, to know whom to bump.
 */
const changeStream: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('compute_node_revision')
      .addColumn('compute_node_reference', 'text', (c) => c.primaryKey())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .alterTable('partition')
      .addColumn('dependency_serial', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('instance').addColumn('requester_node', 'text').execute();
    await db.schema.alterTable('instance').addColumn('requester_partition', 'text').execute();
  },
};

/**
 * Promise results (docs/master.md, "Promise results"): the latest list a node reported for each
 * instance, in a table of its own so that the hot instance reads never carry it. Deleted with the
 * instance.
 */
const promiseResults: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('instance_promise_result')
      .addColumn('instance_id', 'integer', (c) =>
        c.primaryKey().references('instance.id').onDelete('cascade'),
      )
      .addColumn('result_list_json', 'text', (c) => c.notNull())
      .addColumn('reported_at', 'double precision', (c) => c.notNull())
      .execute();
  },
};

/**
 * Identities of master mode (docs: the master-mode contract): users and their API tokens,
 * registration tokens, the certificates the CA issued, and compute node ownership (owner, title,
 * allocation scope, friends, revocation). Tokens are stored as SHA-256 digests only. Proxy-mode
 * compute nodes get no owner and the default scope, which proxy mode ignores.
 */
const identities: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('user')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('admin', 'integer', (c) => c.notNull().check(sql`admin IN (0, 1)`))
      .addColumn('disabled', 'integer', (c) =>
        c
          .notNull()
          .defaultTo(0)
          .check(sql`disabled IN (0, 1)`),
      )
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('user_token')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user', 'text', (c) => c.notNull().references('user.name').onDelete('cascade'))
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('user_token_user').on('user_token').columns(['user']).execute();

    await db.schema
      .createTable('registration_token')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull().references('user.name').onDelete('cascade'))
      .addColumn('expires_at', 'double precision', (c) => c.notNull())
      .addColumn('used_at', 'double precision')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('registration_token_owner')
      .on('registration_token')
      .columns(['owner'])
      .execute();

    await db.schema
      .createTable('certificate')
      .addColumn('serial', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('user', 'compute_node', 'instance')`))
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('not_after', 'double precision', (c) => c.notNull())
      .addColumn('revoked_at', 'double precision')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('certificate_subject')
      .on('certificate')
      .columns(['kind', 'subject'])
      .execute();

    // SQLite adds a column with a foreign key only when its default is NULL, as here.
    await db.schema
      .alterTable('compute_node')
      .addColumn('owner', 'text', (c) => c.references('user.name'))
      .execute();
    await db.schema.alterTable('compute_node').addColumn('title', 'text').execute();
    await db.schema
      .alterTable('compute_node')
      .addColumn('allocation_scope', 'text', (c) =>
        c
          .notNull()
          .defaultTo('personal')
          .check(sql`allocation_scope IN ('personal', 'friend', 'open', 'closed')`),
      )
      .execute();
    await db.schema.alterTable('compute_node').addColumn('revoked_at', 'double precision').execute();
    await db.schema.createIndex('compute_node_owner').on('compute_node').columns(['owner']).execute();

    await db.schema
      .createTable('compute_node_friend')
      .addColumn('compute_node_reference', 'text', (c) =>
        c.notNull().references('compute_node.reference').onDelete('cascade'),
      )
      .addColumn('user', 'text', (c) => c.notNull().references('user.name').onDelete('cascade'))
      .addPrimaryKeyConstraint('compute_node_friend_key', ['compute_node_reference', 'user'])
      .execute();
    await db.schema
      .createIndex('compute_node_friend_user')
      .on('compute_node_friend')
      .columns(['user'])
      .execute();
  },
};

/**
 * Master mode (issue 8): each instance belongs to a user, whose instance trees are a namespace of
 * their own ('' in proxy mode: one namespace), so the identity of an instance becomes (owner, title,
 * root title, shared); and an instance that no node may take yet waits without a partition, with
 * the reason in `allocation_message`. SQLite cannot change a table's unique constraint in place:
 * the table is rebuilt (its promise results are kept aside, as dropping the old table deletes them).
 */
/** Tables as a migration sees them: names and columns only (the schema of the moment). */
type AnyTables = Record<string, Record<string, unknown>>;

const instanceOwner: Migration = {
  async up(untyped: Kysely<unknown>): Promise<void> {
    const db = untyped as Kysely<AnyTables>;
    await db.schema
      .createTable('instance_owned')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('owner', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('requested_by', 'text', (c) => c.notNull())
      .addColumn('shared', 'integer', (c) => c.notNull())
      .addColumn('software_release', 'text', (c) => c.notNull())
      .addColumn('software_type', 'text', (c) => c.notNull())
      .addColumn('parameter_xml', 'text', (c) => c.notNull())
      .addColumn('shared_parameters_json', 'text')
      .addColumn('sla_json', 'text', (c) => c.notNull())
      .addColumn('requested_state', 'text', (c) => c.notNull())
      .addColumn('connection_xml', 'text')
      .addColumn('compute_node_reference', 'text')
      .addColumn('partition_reference', 'text')
      .addColumn('host_position', 'integer')
      .addColumn('reported_state', 'text')
      .addColumn('reported_at', 'double precision')
      .addColumn('error_message', 'text')
      .addColumn('error_at', 'double precision')
      .addColumn('bang_message', 'text')
      .addColumn('bang_at', 'double precision')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .addColumn('updated_at', 'double precision', (c) => c.notNull())
      .addColumn('requester_node', 'text')
      .addColumn('requester_partition', 'text')
      .addColumn('allocation_message', 'text')
      .addUniqueConstraint('instance_owned_identity', ['owner', 'title', 'requested_by', 'shared'])
      .addForeignKeyConstraint(
        'instance_owned_partition',
        ['compute_node_reference', 'partition_reference'],
        'partition',
        ['compute_node_reference', 'reference'],
        (c) => c.onDelete('cascade'),
      )
      .execute();
    const columns = [
      'id',
      'title',
      'requested_by',
      'shared',
      'software_release',
      'software_type',
      'parameter_xml',
      'shared_parameters_json',
      'sla_json',
      'requested_state',
      'connection_xml',
      'compute_node_reference',
      'partition_reference',
      'host_position',
      'reported_state',
      'reported_at',
      'error_message',
      'error_at',
      'bang_message',
      'bang_at',
      'created_at',
      'updated_at',
      'requester_node',
      'requester_partition',
    ];
    await db
      .insertInto('instance_owned')
      .columns(columns)
      .expression(db.selectFrom('instance').select(columns))
      .execute();
    await db.schema
      .createTable('promise_result_kept')
      .addColumn('instance_id', 'integer', (c) => c.primaryKey())
      .addColumn('result_list_json', 'text', (c) => c.notNull())
      .addColumn('reported_at', 'double precision', (c) => c.notNull())
      .execute();
    await db
      .insertInto('promise_result_kept')
      .expression(db.selectFrom('instance_promise_result').selectAll())
      .execute();
    await db.schema.dropTable('instance').execute();
    await db.schema.alterTable('instance_owned').renameTo('instance').execute();
    await db
      .insertInto('instance_promise_result')
      .expression(db.selectFrom('promise_result_kept').selectAll())
      .execute();
    await db.schema.dropTable('promise_result_kept').execute();
    await db.schema
      .createIndex('instance_partition_index')
      .on('instance')
      .columns(['compute_node_reference', 'partition_reference', 'shared'])
      .execute();
    await db.schema.createIndex('instance_requested_by').on('instance').columns(['requested_by']).execute();
  },
};

/**
 * When a partition's dependency serial was last bumped: the legacy API's `timestamp` of the partition
 * is the later of its own timestamp and this, so that a node of the original SlapOS (which sees no
 * dependency serial) also reprocesses a parent whose child published new connection parameters.
 */
const dependencyTime: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('partition').addColumn('dependency_changed_at', 'double precision').execute();
  },
};

/** Every migration, in order. Append only. */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_change_stream': changeStream,
  '0003_promise_results': promiseResults,
  '0004_identities': identities,
  '0005_instance_owner': instanceOwner,
  '0006_dependency_time': dependencyTime,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};
