/**
 * The instance-tree scenarios of the end-to-end tests, written once for any way of reaching the
 * master (the JSON API with its instance guids, the legacy SLAP API with its own): a composite
 * profile requesting a child and publishing its URL, and shared instances on a host.
 */
import assert from 'node:assert/strict';
import type { Instance } from '../client/types.ts';
import { waitForAnswer, waitForPublication } from './standalone.ts';
import type { TestReleases } from './test-releases.ts';

export interface TreeWorld {
  releases: TestReleases;
  /** The compute node the releases are supplied to. */
  node: string;
  /** `slapos <args>` as a client command (exit 0, or 2: requested, not ready yet). */
  slapos(...args: string[]): Promise<void>;
  /** The instance `title` of the tree `root` (a root: `root` omitted), undefined while there is none. */
  instance(title: string, options?: { root?: string; shared?: boolean }): Promise<Instance | undefined>;
}

/** The connection parameters of an instance once `key` is published (and matches `expected`). */
export function waitForPublished(
  world: TreeWorld,
  title: string,
  key: string,
  options: { root?: string; shared?: boolean; expected?: string | RegExp } = {},
): Promise<Record<string, unknown>> {
  return waitForPublication(title, () => world.instance(title, options), key, options);
}

/** A composite profile requests a child and publishes its URL; a new parameter flows down the tree. */
export async function compositeTreeScenario(world: TreeWorld): Promise<void> {
  const { releases } = world;
  await world.slapos('supply', releases.composite, world.node);
  await world.slapos('request', 'tree', releases.composite, '--parameters', 'name=Kid');
  const connection = await waitForPublished(world, 'tree', 'child-url', { expected: /^http:/ });
  assert.equal(await waitForAnswer(connection['child-url'] as string, 'Hello Kid!'), 'Hello Kid!');
  const child = await world.instance('child-of-tree', { root: 'tree' });
  assert.ok(child);
  assert.equal(child.root_instance_title, 'tree');
  assert.equal(child.software_type, 'child');
  assert.equal(child.connection_parameters.url, connection['child-url']);

  await world.slapos('request', 'tree', releases.composite, '--parameters', 'name=Teen');
  assert.equal(await waitForAnswer(connection['child-url'] as string, 'Hello Teen!'), 'Hello Teen!');
}

/** Shared instances are attached to a host, which publishes their connection parameters. */
export async function sharedInstanceScenario(world: TreeWorld): Promise<void> {
  const { releases } = world;
  await world.slapos('supply', releases.host, world.node);
  await world.slapos('request', 'frontend', releases.host);
  await waitForPublished(world, 'frontend', 'shared-count', { expected: '0' });
  await world.slapos('request', 'shop', releases.host, '--slave', '--parameters', 'path=shop');
  const shop = await waitForPublished(world, 'shop', 'url', { shared: true, expected: /\/shop$/ });
  const host = await world.instance('frontend');
  assert.equal(shop.url, `http://${host?.ip_list[0]?.[1]}/shop`);
  await waitForPublished(world, 'frontend', 'shared-count', { expected: '1' });
  // A second one joins the list; the first keeps its parameters.
  await world.slapos('request', 'blog', releases.host, '--slave', '--parameters', 'path=blog');
  await waitForPublished(world, 'blog', 'url', { shared: true, expected: /\/blog$/ });
  await waitForPublished(world, 'frontend', 'shared-count', { expected: '2' });
  assert.equal((await world.instance('shop', { shared: true }))?.connection_parameters.url, shop.url);
}
