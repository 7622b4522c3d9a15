/**
 * How cookbook recipes reach the master: the connection comes from the profile (the slapgrid tail's
 * `[slap-connection]`, or the recipe's own options as slapconfiguration and request take them), the
 * calls go through the typed MasterClient (JSON API v0). A connection with the partition's key and
 * certificate (`key-file`, `cert-file`: a master in master mode issued them) acts as the instance,
 * over mutual TLS, verifying the master with `[slap-connection] master-ca-file` when the node wrote
 * one (our extension; else the system's authorities). Otherwise a node may hand its own client to
 * the run as `slap: { master }` (reused, never closed here). Any other client is opened for one call
 * and closed after it.
 */
import { readFileSync } from 'node:fs';
import {
  createMasterClient,
  isMasterApi,
  isMasterClient,
  type MasterApi,
} from '../../../client/master-api.ts';
import type { MasterClient } from '../../../client/master-client.ts';
import type { Instance } from '../../../client/types.ts';
import type { RecipeContext } from '../../recipe.ts';
import type { Options } from '../../resolver.ts';

export interface SlapConnection {
  serverUrl: string;
  computerId: string;
  partitionId: string;
  keyFile: string | undefined;
  certFile: string | undefined;
}

/** The `[slap-connection]` option naming the CA of the master's certificate (our extension). */
export const MASTER_CA_FILE_OPTION = 'master-ca-file';

/** The `[slap-connection]` option naming the API to speak (our extension: auto, json or legacy). */
export const MASTER_API_OPTION = 'master-api';

/** Whether calls on this connection are made as the instance itself (its own certificate, over TLS). */
export function actsAsInstance(connection: SlapConnection): boolean {
  return connection.serverUrl.startsWith('https:') && !!connection.keyFile && !!connection.certFile;
}

/** Option names of the connection: `[slap-connection]` spelling first, then the old short ones. */
const NAMES = {
  serverUrl: ['server-url', 'url'],
  computerId: ['computer-id', 'computer'],
  partitionId: ['partition-id', 'partition'],
  keyFile: ['key-file', 'key'],
  certFile: ['cert-file', 'cert'],
} as const;

function first(options: Options, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = options.get(name);
    if (value) return value;
  }
  return undefined;
}

/** The connection given by a section's options (`server-url`|`url`, `computer-id`|`computer`…). */
export function connectionFrom(ctx: RecipeContext, options: Options): SlapConnection {
  const required = (key: 'serverUrl' | 'computerId' | 'partitionId'): string => {
    const value = first(options, NAMES[key]);
    if (value === undefined) {
      throw ctx.error(
        `missing option "${NAMES[key][0]}" of [${options.name}] (the master connection of the partition)`,
        {
          option: NAMES[key][0],
          code: 'SLAP_ERR_PROFILE',
          hint: 'Instance profiles get it from the [slap-connection] section that the node appends.',
        },
      );
    }
    return value;
  };
  return {
    serverUrl: required('serverUrl'),
    computerId: required('computerId'),
    partitionId: required('partitionId'),
    keyFile: first(options, NAMES.keyFile),
    certFile: first(options, NAMES.certFile),
  };
}

/** The connection of the `[slap-connection]` section (what publish and the request recipes use). */
export async function slapConnection(ctx: RecipeContext): Promise<SlapConnection> {
  let section: Options;
  try {
    section = await ctx.section('slap-connection');
  } catch (error) {
    throw ctx.error('this recipe needs the [slap-connection] section of an instance run', {
      code: 'SLAP_ERR_PROFILE',
      cause: error,
      hint: 'The node appends it to the instance profile; when testing by hand, add [slap-connection] with server-url, computer-id and partition-id.',
    });
  }
  return connectionFrom(ctx, section);
}

function readPem(ctx: RecipeContext, path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw ctx.error(`cannot read the partition's ${what} ${path}: ${(error as Error).message}`, {
      code: 'SLAP_ERR_CONFIG',
      cause: error,
    });
  }
}

/** An option of `[slap-connection]`, when the run has that section and the option is not empty. */
async function slapConnectionOption(ctx: RecipeContext, name: string): Promise<string | undefined> {
  try {
    return (await ctx.section('slap-connection')).get(name) || undefined;
  } catch {
    return undefined; // a plain `slapos buildout` run without the node's tail
  }
}

/** `[slap-connection] master-api` (our extension: the node's `master_api`), default auto. */
async function masterApi(ctx: RecipeContext): Promise<MasterApi> {
  const value = await slapConnectionOption(ctx, MASTER_API_OPTION);
  if (value === undefined) return 'auto';
  if (!isMasterApi(value)) {
    throw ctx.error(
      `[slap-connection] ${MASTER_API_OPTION} must be auto, json or legacy, not ${JSON.stringify(value)}`,
      {
        code: 'SLAP_ERR_PROFILE',
        option: MASTER_API_OPTION,
      },
    );
  }
  return value;
}

/** Runs `work` with a client of the connection's master. */
export async function withMaster<T>(
  ctx: RecipeContext,
  connection: SlapConnection,
  work: (client: MasterClient) => Promise<T>,
): Promise<T> {
  const asInstance = actsAsInstance(connection);
  const given = ctx.slap?.master;
  if (!asInstance && isMasterClient(given) && given.masterUrl === connection.serverUrl.replace(/\/+$/, '')) {
    return work(given);
  }
  const caFile = connection.serverUrl.startsWith('https:')
    ? await slapConnectionOption(ctx, MASTER_CA_FILE_OPTION)
    : undefined;
  const client = createMasterClient({
    api: await masterApi(ctx),
    computerGuid: connection.computerId,
    masterUrl: connection.serverUrl,
    logger: ctx.logger,
    ...(asInstance || caFile
      ? {
          tls: {
            ...(asInstance && connection.keyFile && connection.certFile
              ? {
                  key: readPem(ctx, connection.keyFile, 'key'),
                  cert: readPem(ctx, connection.certFile, 'certificate'),
                }
              : {}),
            ...(caFile ? { ca: readPem(ctx, caFile, "master's certificate authority") } : {}),
          },
        }
      : {}),
  });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** Instance documents of partitions read during this run, so that each recipe does not ask again. */
const partitionCache = new WeakMap<Options, Map<string, Promise<Instance>>>();

/** The instance allocated on the connection's partition (`get.v0.compute_partition`), once per run. */
export function partitionInstance(ctx: RecipeContext, connection: SlapConnection): Promise<Instance> {
  let cache = partitionCache.get(ctx.buildout);
  if (!cache) {
    cache = new Map<string, Promise<Instance>>();
    partitionCache.set(ctx.buildout, cache);
  }
  const key = `${connection.serverUrl} ${connection.computerId} ${connection.partitionId}`;
  let instance = cache.get(key);
  if (!instance) {
    instance = withMaster(ctx, connection, (client) =>
      client.getComputePartition(
        { computerGuid: connection.computerId, partitionId: connection.partitionId },
        { signal: ctx.signal },
      ),
    );
    cache.set(key, instance);
    instance.catch(() => cache.delete(key));
  }
  return instance;
}
