/**
 * Opens the master's store where its `DatabaseLocation` says: SQLite (embedded) or PostgreSQL
 * (several masters on one database; its driver is loaded only then).
 */
import type { Logger } from '../../lib/logger.ts';
import type { DatabaseLocation } from './database-location.ts';
import type { MasterStore } from './repository.ts';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
import type { TransactionObserver } from './transaction-timing.ts';

export interface OpenMasterStoreOptions {
  logger?: Logger | undefined;
  /** SQLite only: see SqliteStoreOptions. */
  backgroundCheckpointAfter?: SqliteStoreOptions['backgroundCheckpointAfter'];
  /** Told the duration of each transaction (metrics). */
  onTransaction?: TransactionObserver | undefined;
  /** PostgreSQL only: connections in the pool (default 8). */
  poolSize?: number | undefined;
}

export async function openMasterStore(
  location: DatabaseLocation,
  options: OpenMasterStoreOptions = {},
): Promise<MasterStore> {
  if (location.kind === 'sqlite')
    return openSqliteStore({
      path: location.path,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      onTransaction: options.onTransaction,
      ...(options.backgroundCheckpointAfter === undefined
        ? {}
        : { backgroundCheckpointAfter: options.backgroundCheckpointAfter }),
    });
  const { openPostgresStore } = await import('./postgres/postgres-store.ts');
  return openPostgresStore({
    uri: location.uri,
    logger: options.logger,
    onTransaction: options.onTransaction,
    ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
  });
}
