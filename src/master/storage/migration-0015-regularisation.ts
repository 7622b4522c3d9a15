/**
 * Migration 0015 (regularisation, docs/invoicing.md): `regularisation_stop` lists the instance
 * trees the regularisation policy stopped (services/regularisation.ts), so that paying restarts
 * those and only those (a tree its owner had stopped stays stopped). One row per tree of an owner;
 * the row goes when the tree is restarted or destroyed.
 */
import type { Kysely, Migration } from 'kysely';

export const regularisationMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('regularisation_stop')
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('instance_tree', 'text', (c) => c.notNull())
      /** The unpaid invoice that made the policy stop it. */
      .addColumn('invoice', 'text', (c) => c.notNull())
      .addColumn('stopped_at', 'double precision', (c) => c.notNull())
      .addPrimaryKeyConstraint('regularisation_stop_key', ['owner', 'instance_tree'])
      .execute();
  },
};
