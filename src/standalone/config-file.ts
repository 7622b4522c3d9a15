/**
 * The standalone's slapos.cfg: a sandbox compute node `local` and the master in proxy mode on
 * 127.0.0.1, on a port chosen free at the first start and kept (the node's partitions know the
 * master's URL). Written once; later starts only raise `partition_amount` when asked.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { SlapError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { parseIni } from '../lib/ini.ts';
import { STANDALONE_COMPUTER_ID, type StandaloneLayout } from './layout.ts';

export interface StandaloneSettings {
  port: number;
  partitions: number;
  computerId: string;
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const WATCH_LOCAL_SOFTWARE = 'watch_local_software';

export function renderStandaloneConfig(layout: StandaloneLayout, settings: StandaloneSettings): string {
  return [
    '# The standalone SlapOS (slapos standalone start): written once; partition_amount may be raised.',
    '[slapos]',
    'sandbox = true',
    // Developing a software release: edits of a local one rebuild it and redeploy its instances.
    `${WATCH_LOCAL_SOFTWARE} = true`,
    `computer_id = ${settings.computerId}`,
    `master_url = http://127.0.0.1:${settings.port}/`,
    `software_root = ${layout.softwareRoot}`,
    `instance_root = ${layout.instanceRoot}`,
    'software_min_free_space = 100M',
    'instance_min_free_space = 100M',
    '',
    '[slapformat]',
    `partition_amount = ${settings.partitions}`,
    '',
    '[slapproxy]',
    'host = 127.0.0.1',
    `port = ${settings.port}`,
    `database_uri = ${layout.database}`,
    '',
  ].join('\n');
}

/** The settings of an existing slapos.cfg of the standalone, or undefined when there is none. */
export async function readStandaloneConfig(
  layout: StandaloneLayout,
): Promise<StandaloneSettings | undefined> {
  let text: string;
  try {
    text = await readFile(layout.config, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const document = parseIni(text, layout.config);
  const port = Number(document.get('slapproxy', 'port'));
  const partitions = Number(document.get('slapformat', 'partition_amount'));
  const computerId = document.get('slapos', 'computer_id')?.trim();
  if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(partitions) || !computerId)
    throw new SlapError('SLAP_ERR_CONFIG', `${layout.config} is not a standalone configuration`, {
      hint: 'remove it (or the whole directory) to start afresh',
    });
  return { port, partitions, computerId };
}

/** Writes slapos.cfg if missing (choosing a free port), or raises its partition amount; returns the settings. */
export async function ensureStandaloneConfig(
  layout: StandaloneLayout,
  options: { partitions?: number | undefined; defaultPartitions: number },
): Promise<StandaloneSettings> {
  const current = await readStandaloneConfig(layout);
  if (current === undefined) {
    const settings = {
      port: await freePort(),
      partitions: options.partitions ?? options.defaultPartitions,
      computerId: STANDALONE_COMPUTER_ID,
    };
    await writeFileAtomic(layout.config, renderStandaloneConfig(layout, settings), { mode: 0o600 });
    return settings;
  }
  await addWatchLocalSoftware(layout);
  if (options.partitions !== undefined && options.partitions !== current.partitions) {
    if (options.partitions < current.partitions)
      throw new SlapError(
        'SLAP_ERR_FORMAT_SHRINK',
        `the standalone has ${current.partitions} partitions; their number can only grow (asked ${options.partitions})`,
      );
    // Only that line changes: whatever else was edited by hand stays.
    const text = await readFile(layout.config, 'utf8');
    await writeFileAtomic(
      layout.config,
      text.replace(/^partition_amount\s*=.*$/m, `partition_amount = ${options.partitions}`),
      { mode: 0o600 },
    );
    return { ...current, partitions: options.partitions };
  }
  return current;
}

/** A standalone written before `watch_local_software` existed gets it (set to true), once. */
async function addWatchLocalSoftware(layout: StandaloneLayout): Promise<void> {
  const text = await readFile(layout.config, 'utf8');
  if (parseIni(text, layout.config).get('slapos', WATCH_LOCAL_SOFTWARE) !== undefined) return;
  const updated = text.replace(/^\[slapos\][^\S\n]*$/m, (line) => `${line}\n${WATCH_LOCAL_SOFTWARE} = true`);
  if (updated !== text) await writeFileAtomic(layout.config, updated, { mode: 0o600 });
}
