/**
 * Running an example software release (examples/*) by hand as the node would, for its e2e test: a
 * sandbox compute node formatted on a master, the software built in <software_root>/<md5(url)>,
 * and the services it writes started in their own process groups.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runSlapos } from './cli.ts';
import { writeSandboxCfg } from './node.ts';

/** Formats a sandbox compute node of two partitions on `network` (an IPv4 CIDR), registered on the master. */
export async function formatSandboxNode(
  root: string,
  computerId: string,
  masterUrl: string,
  network: string,
): Promise<void> {
  const cfg = await writeSandboxCfg(root, {
    slapos: { computer_id: computerId, master_url: masterUrl },
    slapformat: { partition_amount: 2, sandbox_ipv4_network: network },
  });
  const format = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now']);
  assert.equal(format.code, 0, format.stderr);
}

/** Builds the software release `softwareUrl` (`extends` it) in <root>/opt/<md5(url)>; that directory. */
export async function buildSoftware(root: string, softwareUrl: string): Promise<string> {
  const softwareDir = join(root, 'opt', createHash('md5').update(softwareUrl).digest('hex'));
  await mkdir(softwareDir, { recursive: true });
  await writeFile(join(softwareDir, 'buildout.cfg'), `[buildout]\nextends = ${softwareUrl}\n`);
  const software = await runSlapos([
    '-q',
    'buildout',
    '-c',
    join(softwareDir, 'buildout.cfg'),
    '-N',
    `node:executable=${process.execPath}`,
  ]);
  assert.equal(software.code, 0, software.stderr);
  return softwareDir;
}

/** Starts a service wrapper in its own process group (so that stopping it stops its children). */
export function startService(path: string, args: string[] = []): ChildProcess {
  const child = spawn(path, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  return child;
}

/** Stops a service's process group: SIGTERM, then SIGKILL after 10 s; resolves once it exited. */
export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
