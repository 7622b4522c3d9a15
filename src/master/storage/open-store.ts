/**
 * Opens the master's store where its `DatabaseLocation` says: SQLite (embedded) or PostgreSQL
 * (several masters on one database).
 */
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { DatabaseLocation } from './database-location.ts';
import type { MasterStore } from './repository.ts';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';

export interface OpenMasterStoreOptions {
  logger?: Logger | undefined;
  /** SQLite only: see SqliteStoreOptions. */
  backgroundCheckpointAfter?: SqliteStoreOptions['backgroundCheckpointAfter'];
}

export async function openMasterStore(
  location: DatabaseLocation,
  options: OpenMasterStoreOptions = {},
): Promise<MasterStore> {
  if (location.kind === 'sqlite')
    return openSqliteStore({
      path: location.path,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.backgroundCheckpointAfter === undefined
        ? {}
        : { backgroundCheckpointAfter: options.backgroundCheckpointAfter }),
    });
  throw new SlapError('SLAP_ERR_CONFIG', 'the PostgreSQL store is not available in this build');
}
