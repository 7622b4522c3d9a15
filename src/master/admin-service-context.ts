/**
 * The master's use cases on a master directory's database, for the administration commands that
 * change instance trees as the running master would (`slapos master invoice regularise`, a payment
 * restarting what the regularisation stopped): a master-mode service context opened for one
 * command run. A running master sees the changes at once (SQLite WAL, or the shared PostgreSQL
 * database); its nodes at their next pass.
 */
import { systemClock, type Clock } from '../core/clock.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { openMasterDirectoryStore, type MasterAdminOptions } from './master-admin.ts';
import { auditLogger } from './services/audit.ts';
import { createServiceContext, type ServiceContext } from './services/context.ts';
import { createMasterAuthorizer } from './services/master-authorizer.ts';
import type { MasterStore } from './storage/repository.ts';

/** A master-mode service context on `store` (already open); `close()` closes what it added, not the store. */
export function adminServiceContext(
  store: MasterStore,
  options: { clock?: Clock | undefined; logger: Logger },
): { context: ServiceContext; close: () => Promise<void> } {
  const context = createServiceContext({
    store,
    clock: options.clock ?? systemClock,
    logger: options.logger,
    mode: 'master',
    authorizer: createMasterAuthorizer({ store, audit: auditLogger(options.logger) }),
  });
  return {
    context,
    close: async () => {
      await context.revisions.close();
      await context.contacts.close();
    },
  };
}

export async function withAdminServiceContext<T>(
  options: MasterAdminOptions,
  work: (context: ServiceContext) => Promise<T>,
): Promise<T> {
  const logger = options.logger ?? silentLogger();
  const store = await openMasterDirectoryStore({ dir: options.dir, database: options.database, logger });
  const { context, close } = adminServiceContext(store, { clock: options.clock, logger });
  try {
    return await work(context);
  } finally {
    await close();
    await store.close();
  }
}
