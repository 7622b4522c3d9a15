/**
 * Master mode's services on a fresh test store (testing/test-database.ts), for tests of the use cases without HTTP: the
 * master-mode authorizer, an optional certificate authority, and the usual first steps (users,
 * registered nodes, their partitions).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { openCertificateAuthority, type CertificateAuthority } from '../master/ca/certificate-authority.ts';
import {
  createMasterServices,
  createServiceContext,
  type Caller,
  type MasterServices,
  type ServiceContext,
} from '../master/services/index.ts';
import { createMasterAuthorizer } from '../master/services/master-authorizer.ts';
import type { DatabaseLocation } from '../master/storage/database-location.ts';
import type { MasterStore } from '../master/storage/repository.ts';
import { openTestStore } from './test-database.ts';

export interface MasterModeServices {
  /** On a fresh database of the run's store (SLAPOS_TEST_STORE); closing it drops the database. */
  store: MasterStore;
  /** Where the store's database is (for tests that change it behind the master's back). */
  location: DatabaseLocation;
  context: ServiceContext;
  services: MasterServices;
  /** Adds users, then registers each node (`COMP-1`, `COMP-2`… in order) for its owner. */
  setUp: (world: {
    users: readonly string[];
    nodes: readonly { owner: string; title: string }[];
  }) => Promise<void>;
  /** Requests `title` of `softwareRelease` as `caller`: started, no parameters nor SLA, not shared unless said. */
  request: (
    caller: Caller,
    title: string,
    softwareRelease: string,
    options?: { shared?: boolean; sla?: Record<string, unknown>; parameters?: Record<string, unknown> },
  ) => ReturnType<MasterServices['requestInstance']>;
  /** Formats `computeNodeId` with `partitions` partitions `slappart0…`, as the node itself. */
  format: (computeNodeId: string, partitions: number) => Promise<void>;
}

export async function openMasterModeServices(options: {
  clock: Clock;
  ca?: CertificateAuthority;
}): Promise<MasterModeServices> {
  const { store, location } = await openTestStore();
  const context = createServiceContext({
    store,
    clock: options.clock,
    logger: silentLogger(),
    mode: 'master',
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    authorizer: createMasterAuthorizer({ store, audit: silentLogger() }),
  });
  const services = createMasterServices(context);
  return {
    store,
    location,
    context,
    services,
    setUp: (world) =>
      store.write(async (repository) => {
        for (const name of world.users) await repository.insertUser({ name, admin: false, now: 1 });
        for (const node of world.nodes) await repository.registerComputeNode({ ...node, now: 1 });
      }),
    request: (caller, title, softwareRelease, requestOptions = {}) =>
      services.requestInstance({
        caller,
        title,
        softwareRelease,
        softwareType: '',
        parameters: requestOptions.parameters ?? {},
        shared: requestOptions.shared ?? false,
        state: 'started',
        sla: requestOptions.sla ?? {},
      }),
    format: async (computeNodeId, partitions) => {
      await services.formatComputeNode({
        caller: { kind: 'compute_node', computeNodeId },
        format: {
          computeNodeId,
          address: null,
          netmask: null,
          partitions: Array.from({ length: partitions }, (_, n) => ({
            reference: `slappart${n}`,
            addresses: [],
          })),
        },
      });
    },
  };
}

/** A certificate authority in a temporary directory (`close()` removes it). */
export async function openTestCertificateAuthority(
  clock: Clock,
): Promise<{ ca: CertificateAuthority; dir: string; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'slapos-test-ca-'));
  const ca = await openCertificateAuthority({
    dir: join(dir, 'ca'),
    hostNames: [],
    clock,
    logger: silentLogger(),
  });
  return { ca, dir, close: () => rm(dir, { recursive: true, force: true }) };
}
