/**
 * `slapos.cookbook:slapconfiguration` and `.serialised` (profiles.md §3.12): during init, reads the
 * partition's instance from the master (`get.v0.compute_partition`, then the shared instances it
 * hosts with `allDocs.v0.instance_node_instance_list`) and sets, for other sections to reference:
 * `configuration` and `configuration.<key>` (instance parameters over the profile's defaults),
 * `instance-state`, `slap-software-type`, `slap-computer-id`, `slap-computer-partition-id`,
 * `slap-software-release-url`, `slave-instance-list`, `timestamp`, `instance-title`,
 * `root-instance-title`, `root-instance-short-title`, `instance-guid`, the `ipv4`/`ipv6` sets and
 * `ipv4-random`/`ipv6-random` (their smallest address), `storage-dict` (with `DATA/<name>` links),
 * and every key of the partition's `.slapos-resource` flattened (`tap-name`, `address-list`…).
 * The connection: `server-url`|`url`, `computer-id`|`computer`, `partition-id`|`partition`,
 * `key-file`|`key`, `cert-file`|`cert`. Install and update do nothing.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Instance } from '../../../client/types.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { PyDict, PySet, fromJs, type PyValue } from '../../py-value.ts';
import { connectionFrom, partitionInstance, withMaster } from './slap.ts';
import { unwrapSerialised } from './values.ts';

/** The partition resource file written by `slapos node format`. */
export const RESOURCE_FILE = '.slapos-resource';

/** What the master says about the partition, before the variants decide how to expand parameters. */
export interface PartitionData {
  instance: Instance;
  /** Instance parameters (after the keys the original pops were removed). */
  parameters: PyDict;
}

function smallest(values: PySet): string | undefined {
  let min: string | undefined;
  for (const value of values.values())
    if (typeof value === 'string' && (min === undefined || value < min)) min = value;
  return min;
}

/** The shared instances hosted here, as the original's `slave_instance_list` entries. */
function sharedEntry(item: {
  title: string;
  instance_guid: string;
  software_type: string;
  parameters: Record<string, unknown>;
}): PyDict {
  // The reference is the shared instance's guid: publish `-slave-reference` sends it back as is.
  const entry = PyDict.from([
    ['slave_title', item.title],
    ['slap_software_type', item.software_type],
    ['slave_reference', item.instance_guid],
  ]);
  const parameters = fromJs(item.parameters);
  if (parameters instanceof PyDict) for (const [key, value] of parameters.entries()) entry.set(key, value);
  return entry;
}

/** Nested keys joined with `-`, `_` written `-` (slapconfiguration's `flatten_dict`). */
function flatten(data: Record<string, unknown>, prefix = ''): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [key, value] of Object.entries(data)) {
    const name = prefix + key.replaceAll('_', '-');
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      out.push(...flatten(value as Record<string, unknown>, `${name}-`));
    else out.push([name, value]);
  }
  return out;
}

/** The nearest `.slapos-resource` at or above `directory`. */
function findResourceFile(directory: string): string | undefined {
  let dir = resolve(directory);
  for (;;) {
    const candidate = join(dir, RESOURCE_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readResourceFile(ctx: RecipeContext, file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw ctx.error(`cannot read the partition resource file ${file}: ${(error as Error).message}`, {
      code: 'SLAP_ERR_CONFIG',
      cause: error,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw ctx.error(`the partition resource file ${file} is not a JSON object`, { code: 'SLAP_ERR_CONFIG' });
  }
  return parsed as Record<string, unknown>;
}

/** `storage-home/<name>/<partition>` directories, linked as `<partition dir>/DATA/<name>`. */
function storageDict(ctx: RecipeContext, storageHome: string | undefined, partitionId: string): PyDict {
  const result = new PyDict();
  if (!storageHome || !existsSync(storageHome) || !statSync(storageHome).isDirectory()) return result;
  for (const name of readdirSync(storageHome).sort()) {
    const target = join(storageHome, name, partitionId);
    if (!existsSync(target) || !statSync(target).isDirectory()) continue;
    const data = join(ctx.directories.directory, 'DATA');
    const link = join(data, name);
    mkdirSync(data, { recursive: true });
    if (lstatSync(link, { throwIfNoEntry: false }) === undefined) symlinkSync(target, link);
    result.set(name, link);
  }
  return result;
}

/** Reads the partition from the master and sets every option but the parameter ones. */
export async function readPartition(ctx: RecipeContext): Promise<PartitionData> {
  const { options } = ctx;
  const connection = connectionFrom(ctx, options);
  const instance = await partitionInstance(ctx, connection);
  const shared = await withMaster(ctx, connection, (client) =>
    client.listHostedSharedInstances(instance.instance_guid, { signal: ctx.signal }),
  );
  options.set('instance-state', instance.state);
  options.set('slap-software-type', instance.software_type);
  options.set('slap-computer-partition-id', instance.compute_partition_id);
  options.set('slap-computer-id', instance.computer_guid);
  options.set('slap-software-release-url', instance.software_release_uri);
  options.set('slave-instance-list', shared.map(sharedEntry));
  options.set('timestamp', String(instance.processing_timestamp));
  options.set('instance-title', instance.title || 'UNKNOWN Instance');
  options.set('root-instance-title', instance.root_instance_title || 'UNKNOWN');
  options.set('root-instance-short-title', 'UNKNOWN');
  options.set('instance-guid', instance.instance_guid);

  const ipv4 = new PySet();
  const ipv6 = new PySet();
  for (const entry of instance.ip_list) {
    const address = entry[1] ?? '';
    if (isIPv4(address)) ipv4.add(address);
    else if (isIPv6(address)) ipv6.add(address);
  }
  options.set('ipv4', ipv4);
  options.set('ipv6', ipv6);
  const ipv4Random = smallest(ipv4);
  const ipv6Random = smallest(ipv6);
  if (ipv4Random !== undefined) options.set('ipv4-random', ipv4Random);
  if (ipv6Random !== undefined) options.set('ipv6-random', ipv6Random);
  options.set(
    'storage-dict',
    storageDict(ctx, options.get('storage-home') || undefined, instance.compute_partition_id),
  );

  const resource = findResourceFile(ctx.directories.directory);
  if (resource) {
    for (const [key, value] of flatten(readResourceFile(ctx, resource)))
      if (!options.has(key)) options.set(key, fromJs(value));
  }
  const parameters = fromJs(instance.parameters);
  return { instance, parameters: parameters instanceof PyDict ? parameters : new PyDict() };
}

/** Sets `configuration` and one `configuration.<key>` per parameter whose name buildout can hold. */
export function setConfiguration(ctx: RecipeContext, configuration: PyValue, expanded: PyDict): void {
  ctx.options.set('configuration', configuration);
  for (const [key, value] of expanded.entries()) {
    if (typeof key !== 'string' || key.includes('=') || key.includes(':')) continue;
    ctx.options.set(`configuration.${key}`, value);
  }
}

const nothing = (): undefined => undefined;

export const slapconfiguration: Recipe = {
  version: '1',
  async init(ctx) {
    const { parameters } = await readPartition(ctx);
    setConfiguration(ctx, parameters, parameters);
  },
  install: nothing,
  update: nothing,
};

export const slapconfigurationSerialised: Recipe = {
  version: '1',
  async init(ctx) {
    const { parameters } = await readPartition(ctx);
    const unwrapped = unwrapSerialised(parameters, `[${ctx.name}] instance parameters`);
    setConfiguration(ctx, unwrapped, unwrapped instanceof PyDict ? unwrapped : new PyDict());
  },
  install: nothing,
  update: nothing,
};
