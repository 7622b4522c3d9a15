/**
 * Migration 0017 (backups and resilient trees, docs/resiliency.md): `backup_tree` (one row per
 * instance tree with backups: its repository password, clones, takeover epoch, requests),
 * `backup_member` (the role of each member instance and what its node reported), `backup_endpoint`
 * (each node's repository server) and `backup_listing` (the backups the nodes report holding).
 * The rows of an instance go with it (foreign keys, on delete cascade).
 */
import type { Kysely, Migration } from 'kysely';

export const backupsMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('backup_tree')
      .addColumn('root_instance_id', 'integer', (c) =>
        c.primaryKey().references('instance.id').onDelete('cascade'),
      )
      .addColumn('password', 'text', (c) => c.notNull())
      .addColumn('clones', 'integer', (c) => c.notNull())
      .addColumn('epoch', 'integer', (c) => c.notNull())
      .addColumn('backup_requested_at', 'double precision')
      .addColumn('restore_request_json', 'text')
      .addColumn('created_at', 'double precision', (c) => c.notNull())
      .execute();
    // The failover monitor reads the trees with clones, every second.
    await db.schema
      .createIndex('backup_tree_clones')
      .on('backup_tree')
      .columns(['clones', 'root_instance_id'])
      .execute();

    await db.schema
      .createTable('backup_member')
      .addColumn('instance_id', 'integer', (c) =>
        c.primaryKey().references('instance.id').onDelete('cascade'),
      )
      .addColumn('root_instance_id', 'integer', (c) =>
        c.notNull().references('backup_tree.root_instance_id').onDelete('cascade'),
      )
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('restored_backup_id', 'text')
      .addColumn('restored_at', 'double precision')
      .addColumn('last_backup_id', 'text')
      .addColumn('last_backup_at', 'double precision')
      .addColumn('fenced_at', 'double precision')
      .addColumn('updated_at', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('backup_member_tree')
      .on('backup_member')
      .columns(['root_instance_id', 'instance_id'])
      .execute();

    await db.schema
      .createTable('backup_endpoint')
      .addColumn('compute_node_reference', 'text', (c) => c.primaryKey())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('certificate', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'double precision', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('backup_listing')
      .addColumn('root_instance_id', 'integer', (c) =>
        c.notNull().references('backup_tree.root_instance_id').onDelete('cascade'),
      )
      .addColumn('backup_id', 'text', (c) => c.notNull())
      .addColumn('time', 'double precision', (c) => c.notNull())
      .addColumn('compute_node_reference', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('backup_listing_key', [
        'root_instance_id',
        'compute_node_reference',
        'backup_id',
      ])
      .execute();
    await db.schema
      .createIndex('backup_listing_time')
      .on('backup_listing')
      .columns(['root_instance_id', 'time', 'backup_id', 'compute_node_reference'])
      .execute();
  },
};
