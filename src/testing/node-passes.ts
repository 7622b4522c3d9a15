/**
 * A real node for tests of the node passes: a test master on 127.0.0.1, a sandbox slapos.cfg, the
 * compute node formatted through the master, the real supervisor daemon (with the watchdog as its
 * exit notifier), and tiny software releases written on disk. `close()` stops everything and removes
 * the directories.
 */
import Database from 'better-sqlite3';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MasterClient } from '../client/master-client.ts';
import { createMasterClient } from '../client/master-api.ts';
import { systemClock } from '../core/clock.ts';
import { loadNodeConfig, type ConfigOverrides, type NodeConfig } from '../node/config.ts';
import { formatComputeNode } from '../node/format/format.ts';
import { masterRegistrar } from '../node/master.ts';
import { connectSupervisor } from '../node/node-supervisor.ts';
import { SupervisorClient } from '../node/supervisor/client.ts';
import { supervisorPaths } from '../node/supervisor/paths.ts';
import { startTestMaster, type TestMaster } from './master.ts';
import { makeTempDir, writeSandboxCfg, type CfgSections } from './node.ts';

export const COMPUTER_ID = 'COMP-NODE';

export interface NodeHarness {
  dir: string;
  cfg: string;
  config: NodeConfig;
  master: TestMaster;
  /** The node's client (what the passes use). */
  client: MasterClient;
  /** The real supervisor daemon (not started with `supervisor: false`). */
  supervisor: SupervisorClient;
  /** Reloads slapos.cfg with CLI-like overrides. */
  reload(overrides?: ConfigOverrides): Promise<NodeConfig>;
  /** Rows of the master's database (read-only). */
  db: {
    instance(title: string): InstanceRow | undefined;
    software(url: string): SoftwareRow | undefined;
    partition(id: string): { slap_state: string; timestamp: number | null } | undefined;
    /** The last bang message of the compute node. */
    computeNodeBang(): string | null;
  };
  close(): Promise<void>;
}

export interface InstanceRow {
  title: string;
  requested_state: string;
  reported_state: string | null;
  reported_at: number | null;
  error_message: string | null;
  error_at: number | null;
  bang_message: string | null;
  partition_reference: string | null;
}

export interface SoftwareRow {
  requested_state: string;
  reported_state: string | null;
  error_message: string | null;
}

export interface NodeHarnessOptions {
  partitions?: number;
  cfg?: CfgSections;
  /** Start the real supervisor daemon (default true). */
  supervisor?: boolean;
  /**
   * Seconds the master's clock is behind the node's (default 3): its whole-second timestamps are
   * then settled at once (see JsonApiStateSource), so that a re-run right after a change is a no-op.
   * 0 for real time.
   */
  masterLagSeconds?: number;
}

export async function startNodeHarness(options: NodeHarnessOptions = {}): Promise<NodeHarness> {
  const dir = await makeTempDir('slapos-pass-');
  // Partition users (system mode tests) must reach their directory.
  await chmod(dir, 0o755);
  const lag = options.masterLagSeconds ?? 3;
  const master = await startTestMaster({
    computerId: COMPUTER_ID,
    ...(lag === 0 ? {} : { clock: { now: () => systemClock.now() - lag } }),
  });
  const client = createMasterClient({ api: 'json', masterUrl: master.url });
  const cleanup = async (): Promise<void> => {
    await client.close();
    await master.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const cfg = await writeSandboxCfg(dir, {
      ...options.cfg,
      slapos: {
        computer_id: COMPUTER_ID,
        master_url: master.url,
        software_min_free_space: '0',
        instance_min_free_space: '0',
        ...options.cfg?.slapos,
      },
      slapformat: { partition_amount: options.partitions ?? 3, ...options.cfg?.slapformat },
    });
    const reload = (overrides: ConfigOverrides = {}): Promise<NodeConfig> =>
      loadNodeConfig({ cfg, overrides, isRoot: false });
    const config = await reload();
    await mkdir(config.softwareRoot, { recursive: true });
    const format = await formatComputeNode(config, { registrar: masterRegistrar(client), isRoot: false });
    if (format.postError !== undefined) throw new Error(`format: ${format.postError}`);
    const supervisor =
      options.supervisor === false
        ? new SupervisorClient({ socketPath: supervisorPaths(config.instanceRoot).socket })
        : (await connectSupervisor(config)).client;
    const database = new Database(master.databasePath, { readonly: true, fileMustExist: true });
    return {
      dir,
      cfg,
      config,
      master,
      client,
      supervisor,
      reload,
      db: {
        instance: (title) =>
          database.prepare('SELECT * FROM instance WHERE title = ? AND shared = 0').get(title) as
            InstanceRow | undefined,
        software: (url) =>
          database
            .prepare('SELECT * FROM software_installation WHERE url = ? AND compute_node_reference = ?')
            .get(url, COMPUTER_ID) as SoftwareRow | undefined,
        partition: (id) =>
          database
            .prepare(
              'SELECT slap_state, timestamp FROM partition WHERE reference = ? AND compute_node_reference = ?',
            )
            .get(id, COMPUTER_ID) as { slap_state: string; timestamp: number | null } | undefined,
        computeNodeBang: () =>
          (
            database.prepare('SELECT bang_message FROM compute_node WHERE reference = ?').get(COMPUTER_ID) as
              { bang_message: string | null } | undefined
          )?.bang_message ?? null,
      },
      async close() {
        database.close();
        if (options.supervisor !== false)
          await supervisor.shutdown({ stopPrograms: true }).catch(() => undefined);
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * Writes a software release: `software.cfg` renders `instance.cfg` from `instance.cfg.in` (with
 * slapos.recipe.template, as real releases do); `$${...}` in the instance text survives to the
 * instance run. Returns the URL (the path of software.cfg).
 */
export async function writeSoftwareRelease(
  dir: string,
  name: string,
  files: { instance: string; software?: string },
): Promise<string> {
  const root = join(dir, 'releases', name);
  await mkdir(root, { recursive: true });
  await writeFile(join(root, 'instance.cfg.in'), files.instance);
  await writeFile(
    join(root, 'software.cfg'),
    files.software ??
      [
        '[buildout]',
        'parts = instance-profile',
        '',
        '[instance-profile]',
        'recipe = slapos.recipe.template',
        'url = ${:_profile_base_location_}/instance.cfg.in',
        'output = ${buildout:directory}/instance.cfg',
        '',
      ].join('\n'),
  );
  return join(root, 'software.cfg');
}

/**
 * The instance profile of a small web service: `etc/service/server` runs a node.js HTTP server on
 * 127.0.0.1 (any port), which writes its port to `var/port` and answers `hello from <partition>`;
 * a declarative promise waits for `var/port`. `extra` is appended (more parts: list them in `parts`).
 */
export function helloInstance(
  options: { extraParts?: string; extra?: string; promise?: string } = {},
): string {
  const server = [
    "const http = require('node:http');",
    "const fs = require('node:fs');",
    'const dir = process.argv[1];',
    "const server = http.createServer((req, res) => res.end('hello from ' + dir));",
    "server.listen(0, '127.0.0.1', () => {",
    "  fs.mkdirSync(dir + '/var', { recursive: true });",
    "  fs.writeFileSync(dir + '/var/port', String(server.address().port));",
    '});',
  ].join(' ');
  return [
    '[buildout]',
    `parts = server promise ${options.extraParts ?? ''}`,
    '',
    '[server]',
    'recipe = slapos.recipe.template',
    'output = $${buildout:directory}/etc/service/server',
    'mode = 0755',
    'inline =',
    '  #!/bin/sh',
    `  exec ${process.execPath} -e "${server}" $\${buildout:directory}`,
    '',
    '[promise]',
    'recipe = slapos.recipe.template',
    'output = $${buildout:directory}/etc/promise.d/server.json',
    `inline = ${options.promise ?? '{"kind": "file", "path": "var/port"}'}`,
    '',
    options.extra ?? '',
  ].join('\n');
}
