/** Reads what the plan compares with: directories, resource files, users, addresses, routes. */
import { readFile, stat } from 'node:fs/promises';
import type { Host, HostAddress, UnixGroup, UnixUser } from './host.ts';
import type { ComputeNodeLayout } from './layout.ts';
import { pathsToObserve, type Observation, type PathInfo } from './plan.ts';

export async function observeHost(
  layout: ComputeNodeLayout,
  host: Host,
  options: { addresses?: readonly HostAddress[] } = {},
): Promise<Observation> {
  const { dirs, files } = pathsToObserve(layout);
  const paths = new Map<string, PathInfo | undefined>();
  for (const path of dirs) paths.set(path, await pathInfo(path));
  const contents = new Map<string, string | undefined>();
  for (const path of files) contents.set(path, await readIfExists(path));

  const needsUsers = layout.alterUser;
  const needsNetwork = layout.mode === 'system' && layout.alterNetwork;
  const needsRoutes = needsNetwork && layout.partitions.some((p) => p.ipv6Range !== undefined);
  return {
    paths,
    files: contents,
    users: needsUsers ? await host.users() : new Map<string, UnixUser>(),
    groups: needsUsers ? await host.groups() : new Map<string, UnixGroup>(),
    addresses: needsNetwork ? (options.addresses ?? (await host.addresses())) : [],
    localRoutes: needsRoutes ? await host.localRoutes6() : new Set<string>(),
    nonlocalBind: needsRoutes ? await host.sysctl('net.ipv6.ip_nonlocal_bind') : undefined,
  };
}

async function pathInfo(path: string): Promise<PathInfo | undefined> {
  try {
    const info = await stat(path);
    return { isDirectory: info.isDirectory(), mode: info.mode, uid: info.uid, gid: info.gid };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}
