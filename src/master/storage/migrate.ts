/**
 * Brings a store's schema to the latest migration (migrations.ts) with Kysely's Migrator, logging
 * each migration applied. Kysely takes its dialect's migration lock, so several masters starting
 * at once on one database apply each migration once.
 */
import { Migrator, type Kysely } from '../../lib/kysely.ts';
import type { Logger } from '../../lib/logger.ts';
import { migrationProvider, type MigrationDialect } from './migrations.ts';
import type { MasterDatabase } from './schema.ts';

export async function migrateToLatest(
  db: Kysely<MasterDatabase>,
  options: { dialect: MigrationDialect; logger?: Logger | undefined },
): Promise<void> {
  const { logger } = options;
  const { error, results } = await new Migrator({
    db,
    provider: migrationProvider(options.dialect),
  }).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  for (const result of results ?? []) {
    logger?.info({ migration: result.migrationName, status: result.status }, 'database migration');
  }
}
