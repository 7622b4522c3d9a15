/**
 * The master's use cases on a master directory's database, for the administration commands that
 * change instance trees as the running master would (`slapos master invoice regularise`, a payment
 * restarting what the regularisation stopped): a master-mode service context opened for one
 * command run. A running master sees the changes at once (SQLite WAL, or the shared PostgreSQL
 * database); its nodes at their next pass.
 */
import { systemClock } from '../core/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { openMasterDirectoryStore, type MasterAdminOptions } from './master-admin.ts';
import { auditLogger } from './services/audit.ts';
import { createServiceContext, type ServiceContext } from './services/context.ts';
import { createMasterAuthorizer } from './services/master-authorizer.ts';

export async function withAdminServiceContext<T>(
  options: MasterAdminOptions,
  work: (context: ServiceContext) => Promise<T>,
): Promise<T> {
  const logger = options.logger ?? silentLogger();
  const store = await openMasterDirectoryStore({ dir: options.dir, database: options.database, logger });
  const context = createServiceContext({
    store,
    clock: options.clock ?? systemClock,
    logger,
    mode: 'master',
    authorizer: createMasterAuthorizer({ store, audit: auditLogger(logger) }),
  });
  try {
    return await work(context);
  } finally {
    await context.revisions.close();
    await context.contacts.close();
    await store.close();
  }
}
