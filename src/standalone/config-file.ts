/**
 * The standalone's slapos.cfg: a sandbox compute node `local` and the master in proxy mode on
 * 127.0.0.1, on a port chosen free at the first start and kept (the node's partitions know the
 * master's URL), with the master's access token (`master_token`: the local secret, also in
 * `etc/master.token`, created at the first start). Written once; later starts only raise
 * `partition_amount` when asked, and give a standalone made before the token existed its token.
 */
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createServer } from 'node:net';
import { SlapError } from '../core/errors.ts';
import {
  createAccessToken,
  MASTER_TOKEN_OPTION,
  readAccessTokenFile,
  writeAccessTokenFile,
} from '../lib/access-token.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { parseIni } from '../lib/ini.ts';
import { cacheLayout } from '../cache/layout.ts';
import { ensureSigningIdentity } from './cache-signature.ts';
import { STANDALONE_COMPUTER_ID, type StandaloneLayout } from './layout.ts';

export interface StandaloneSettings {
  port: number;
  partitions: number;
  computerId: string;
  /**
   * The port of the standalone's binary cache server, when its node's `[networkcache]` is the one
   * the standalone wrote (one edited to point elsewhere starts none).
   */
  cachePort?: number | undefined;
}

export interface EnsuredStandaloneConfig extends StandaloneSettings {
  /** The master's access token. */
  accessToken: string;
  /** True when this call gave slapos.cfg its token (a new standalone, or one made before tokens). */
  tokenAdded: boolean;
  /** True when this call gave slapos.cfg its `[networkcache]` (a new standalone, or one made before it). */
  cacheAdded: boolean;
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

/** Whether something already listens on 127.0.0.1:`port` (binding it fails with EADDRINUSE). */
export function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** The error of a standalone whose master's port is taken: where to change it. */
export function portTakenError(layout: StandaloneLayout, port: number): SlapError {
  return new SlapError(
    'SLAP_ERR_LISTEN_FAILED',
    `the standalone's master cannot listen on 127.0.0.1:${port}: another program uses that port`,
    {
      hint:
        `stop that program, or choose another port in ${layout.config}: \`port\` under [slapproxy] ` +
        `and the port of \`master_url\` under [slapos] (both hold ${port})`,
    },
  );
}

/** The standalone cache server's base URL on `port`. */
export function standaloneCacheUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/**
 * The node's `[networkcache]`: the standalone's own cache server for download and upload of built
 * software releases, uploads authenticated with the cache server's first token (our
 * `upload-token-file` extension). The signing key and its certificate are added by
 * `ensureCacheSignature` (made while the master comes up: an RSA key takes a while).
 */
export function renderNetworkcacheSection(layout: StandaloneLayout, cachePort: number): string {
  const url = standaloneCacheUrl(cachePort);
  return [
    '[networkcache]',
    `# The standalone's binary cache server (${layout.cacheDir}): what the node built is uploaded`,
    '# there and installed from there again. Point these elsewhere and the standalone starts none.',
    `download-binary-cache-url = ${url}/shacache`,
    `download-binary-dir-url = ${url}/shadir`,
    `upload-binary-cache-url = ${url}/shacache`,
    `upload-binary-dir-url = ${url}/shadir`,
    `upload-token-file = ${cacheLayout(layout.cacheDir).tokenFile}`,
    '',
  ].join('\n');
}

const SIGNATURE_KEY_OPTION = 'signature-private-key-file';
const SIGNATURE_CERTIFICATES_OPTION = 'signature-certificate-list';

/**
 * Gives the standalone's own `[networkcache]` its signing identity, made once (an RSA key and its
 * self-signed certificate in `etc/`, 0600): the key signs the node's shadir entries, the
 * certificate is the `signature-certificate-list`, so the node trusts what it uploaded. A section
 * that has them, or that points elsewhere, is left as it is.
 */
export async function ensureCacheSignature(layout: StandaloneLayout): Promise<void> {
  const text = await readFile(layout.config, 'utf8');
  const settings = await readStandaloneConfig(layout);
  const document = parseIni(text, layout.config);
  if (settings?.cachePort === undefined) return;
  if (
    document.get('networkcache', SIGNATURE_KEY_OPTION) !== undefined &&
    document.get('networkcache', SIGNATURE_CERTIFICATES_OPTION) !== undefined
  )
    return;
  const certificate = await ensureSigningIdentity(layout.signature, `standalone-${STANDALONE_COMPUTER_ID}`);
  const lines = certificate
    .trim()
    .split('\n')
    .map((line) => `  ${line}`);
  let updated = withSectionOption(text, 'networkcache', SIGNATURE_KEY_OPTION, layout.signature.keyFile, true);
  updated = withSectionOption(
    updated,
    'networkcache',
    SIGNATURE_CERTIFICATES_OPTION,
    `\n${lines.join('\n')}`,
    true,
  );
  await writeFileAtomic(layout.config, updated, { mode: 0o600 });
}

export function renderStandaloneConfig(
  layout: StandaloneLayout,
  settings: StandaloneSettings,
  accessToken: string,
  networkcache?: string,
): string {
  return [
    '# The standalone SlapOS (slapos standalone start): written once; partition_amount may be raised.',
    '# It holds the master access token: keep it private (mode 0600).',
    '[slapos]',
    'sandbox = true',
    // Developing a software release: edits of a local one rebuild it and redeploy its instances.
    `${WATCH_LOCAL_SOFTWARE} = true`,
    `computer_id = ${settings.computerId}`,
    `master_url = http://127.0.0.1:${settings.port}/`,
    `${MASTER_TOKEN_OPTION} = ${accessToken}`,
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
    ...(networkcache === undefined ? [] : [networkcache]),
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
  const cacheUrl = /^http:\/\/127\.0\.0\.1:(\d+)\/shacache$/.exec(
    document.get('networkcache', 'upload-binary-cache-url')?.trim() ?? '',
  );
  const cachePort = cacheUrl === null ? undefined : Number(cacheUrl[1]);
  if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(partitions) || !computerId)
    throw new SlapError('SLAP_ERR_CONFIG', `${layout.config} is not a standalone configuration`, {
      hint: 'remove it (or the whole directory) to start afresh',
    });
  return {
    port,
    partitions,
    computerId,
    ...(cachePort === undefined || cachePort > 65535 ? {} : { cachePort }),
  };
}

/** The token of `etc/master.token`, created (random, 0600) when missing; `etc/` is kept 0700. */
async function ensureAccessToken(layout: StandaloneLayout): Promise<string> {
  const etc = dirname(layout.tokenFile);
  await mkdirPrivate(etc);
  try {
    return await readAccessTokenFile(layout.tokenFile);
  } catch (error) {
    if ((error as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') throw error;
  }
  const token = createAccessToken();
  await writeAccessTokenFile(layout.tokenFile, token);
  return token;
}

async function mkdirPrivate(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
}

/** `text` with `[slapos] master_token` set to `token` (the rest of the file as it was). */
export function withMasterToken(text: string, token: string): string {
  return withSlaposOption(text, MASTER_TOKEN_OPTION, token);
}

/**
 * `text` with `key = value` in its `[slapos]` section: that section's `key` line replaced, else a
 * line added under its header; other sections (which may have a `key` too) and lines stay as they were.
 */
function withSlaposOption(text: string, key: string, value: string): string {
  return withSectionOption(text, 'slapos', key, value);
}

/**
 * `text` with `key = value` in its `[section]` (a name of letters only): that section's `key` line
 * replaced, else a line added under its header (or, `atEnd`, after its last line).
 */
function withSectionOption(text: string, section: string, key: string, value: string, atEnd = false): string {
  const header = new RegExp(`^\\[${section}\\][^\\S\\n]*$`, 'm').exec(text);
  if (header === null) return text;
  const start = header.index + header[0].length;
  const next = /^\[/m.exec(text.slice(start));
  const end = next === null ? text.length : start + next.index;
  const line = `${key} =${value.startsWith('\n') ? '' : ' '}${value}`;
  const body = text.slice(start, end);
  const existing = new RegExp(`^${key}[ \\t]*[=:].*$`, 'm');
  const updated = existing.test(body)
    ? body.replace(existing, () => line)
    : atEnd
      ? `${body.replace(/\n*$/, '')}\n${line}\n${end < text.length ? '\n' : ''}`
      : `\n${line}${body}`;
  return text.slice(0, start) + updated + text.slice(end);
}

/**
 * Writes slapos.cfg if missing (choosing a free port), or raises its partition amount, and makes
 * sure it holds the master's token (created in `etc/master.token` at the first start); returns
 * the settings.
 */
export async function ensureStandaloneConfig(
  layout: StandaloneLayout,
  options: { partitions?: number | undefined; defaultPartitions: number },
): Promise<EnsuredStandaloneConfig> {
  const accessToken = await ensureAccessToken(layout);
  const current = await readStandaloneConfig(layout);
  if (current === undefined) {
    const settings = {
      port: await freePort(),
      partitions: options.partitions ?? options.defaultPartitions,
      computerId: STANDALONE_COMPUTER_ID,
      cachePort: await freePort(),
    };
    const networkcache = renderNetworkcacheSection(layout, settings.cachePort);
    await writeFileAtomic(
      layout.config,
      renderStandaloneConfig(layout, settings, accessToken, networkcache),
      {
        mode: 0o600,
      },
    );
    return { ...settings, accessToken, tokenAdded: true, cacheAdded: true };
  }
  if (options.partitions !== undefined && options.partitions < current.partitions)
    throw new SlapError(
      'SLAP_ERR_FORMAT_SHRINK',
      `the standalone has ${current.partitions} partitions; their number can only grow (asked ${options.partitions})`,
    );
  const partitions = options.partitions ?? current.partitions;
  // Only those lines change: whatever else was edited by hand stays.
  const text = await readFile(layout.config, 'utf8');
  let updated = text;
  if (partitions !== current.partitions)
    updated = updated.replace(/^partition_amount\s*=.*$/m, () => `partition_amount = ${partitions}`);
  const tokenAdded =
    parseIni(updated, layout.config).get('slapos', MASTER_TOKEN_OPTION)?.trim() !== accessToken;
  if (tokenAdded) updated = withMasterToken(updated, accessToken);
  updated = withWatchLocalSoftware(updated, layout.config);
  let { cachePort } = current;
  const cacheAdded = !parseIni(updated, layout.config).has('networkcache');
  if (cacheAdded) {
    // A standalone made before it had a cache server gets one.
    cachePort = await freePort();
    const section = renderNetworkcacheSection(layout, cachePort);
    updated = `${updated.replace(/\n*$/, '\n')}\n${section}`;
  }
  if (updated !== text) await writeFileAtomic(layout.config, updated, { mode: 0o600 });
  else await chmod(layout.config, 0o600);
  return { ...current, cachePort, partitions, accessToken, tokenAdded, cacheAdded };
}

/** A standalone written before `watch_local_software` existed gets it (set to true), once. */
function withWatchLocalSoftware(text: string, file: string): string {
  if (parseIni(text, file).get('slapos', WATCH_LOCAL_SOFTWARE) !== undefined) return text;
  return withSlaposOption(text, WATCH_LOCAL_SOFTWARE, 'true');
}
