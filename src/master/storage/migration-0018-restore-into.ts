/**
 * Migration 0018 (restore into another tree, and a tree's restore status, docs/resiliency.md):
 * `backup_tree` gains the source tree of its pending restore request (null: none, or the tree's own
 * backups), indexed to find the trees restoring from a given source, and its last restore (the JSON
 * of the status the backup list answers: pending, done or failed).
 */
import type { Kysely, Migration } from 'kysely';

export const restoreIntoMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('backup_tree')
      .addColumn('restore_source_root_id', 'integer', (c) => c.references('instance.id').onDelete('set null'))
      .execute();
    await db.schema.alterTable('backup_tree').addColumn('last_restore_json', 'text').execute();
    // The backup sync reads, for each tree of a node, the trees whose pending restore reads it.
    await db.schema
      .createIndex('backup_tree_restore_source')
      .on('backup_tree')
      .columns(['restore_source_root_id', 'root_instance_id'])
      .execute();
  },
};
