/**
 * `slapos cache start`: the binary cache server (shacache + shadir, src/cache/), in the foreground
 * until SIGTERM or SIGINT. The first start creates DIR (0700) with its index and an upload token
 * (DIR/upload.token, 0600). Prints where it listens once ready (`--json`: as an object).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import { isLoopbackHost } from '../../lib/loopback.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { watchStopSignals } from '../stop-signals.ts';

export const DEFAULT_CACHE_PORT = 8081;

interface CacheStartFlags {
  dir: string;
  host?: string;
  port?: string;
  maxUploadSize?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  clientKind?: string[];
  json?: boolean;
}

async function readPem(ctx: CliContext, file: string, flag: string): Promise<string> {
  try {
    return await readFile(resolve(ctx.cwd, file), 'utf8');
  } catch (error) {
    throw new SlapError('SLAP_ERR_CONFIG', `${flag}: cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function usage(message: string, hint?: string): SlapError {
  return new SlapError('SLAP_ERR_USAGE', message, hint === undefined ? {} : { hint });
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_CACHE_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw usage(`--port must be a port number (0 to 65535), not ${value}`);
  return port;
}

async function tlsOptions(ctx: CliContext, flags: CacheStartFlags) {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) {
    if (flags.clientCa !== undefined) throw usage('--client-ca needs --tls-cert and --tls-key');
    return undefined;
  }
  if (flags.tlsCert === undefined || flags.tlsKey === undefined)
    throw usage('--tls-cert and --tls-key go together');
  return {
    cert: await readPem(ctx, flags.tlsCert, '--tls-cert'),
    key: await readPem(ctx, flags.tlsKey, '--tls-key'),
    clientCa: flags.clientCa === undefined ? undefined : await readPem(ctx, flags.clientCa, '--client-ca'),
  };
}

async function cacheStart(ctx: CliContext, flags: CacheStartFlags): Promise<void> {
  const { parseByteSize } = await import('../../node/config.ts');
  let maxUploadBytes: number | undefined;
  if (flags.maxUploadSize !== undefined) {
    try {
      maxUploadBytes = parseByteSize(flags.maxUploadSize);
    } catch (error) {
      throw usage(`--max-upload-size: ${(error as Error).message}`);
    }
    if (maxUploadBytes < 1) throw usage('--max-upload-size must be at least one byte');
  }
  const host = flags.host ?? '127.0.0.1';
  const port = parsePort(flags.port);
  const tls = await tlsOptions(ctx, flags);
  const logger = ctx.logger('daemon');
  if (tls === undefined && !isLoopbackHost(host))
    logger.warn(
      { host },
      'plain HTTP on an address other machines reach: upload tokens cross the network in clear; give --tls-cert and --tls-key',
    );
  const { startCacheServer } = await import('../../cache/cache-server.ts');
  const stop = watchStopSignals();
  try {
    const server = await startCacheServer({
      dir: resolve(ctx.cwd, flags.dir),
      host,
      port,
      tls,
      logger,
      ...(maxUploadBytes === undefined ? {} : { maxUploadBytes }),
      ...(flags.clientKind === undefined ? {} : { certificateKinds: flags.clientKind }),
    });
    const info = {
      url: server.url,
      shacache_url: server.shacacheUrl,
      shadir_url: server.shadirUrl,
      dir: server.layout.dir,
      token_file: server.layout.tokenFile,
      client_certificates: tls?.clientCa !== undefined,
    };
    if (flags.json) ctx.printJson(info);
    else
      ctx.print(
        [
          `cache server listening on ${server.url}`,
          `  shacache: ${server.shacacheUrl}`,
          `  shadir:   ${server.shadirUrl}`,
          `  uploads:  Authorization: Bearer <token>${server.initialTokenCreated ? ` (a first token was written to ${server.layout.tokenFile})` : ''}; more with slapos cache token create${info.client_certificates ? ', or a client certificate of --client-ca' : ''}`,
        ].join('\n'),
      );
    const signal = await stop.stopped;
    logger.info({ signal }, 'stopping');
    await server.close();
  } finally {
    stop.dispose();
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(',')
      .map((kind) => kind.trim())
      .filter((kind) => kind !== ''),
  ];
}

export function registerCacheStart(program: Command, ctx: CliContext): void {
  commandGroup(program, 'cache')
    .command('start')
    .description(
      'start a binary cache server (shacache and shadir, as slapos.libnetworkcache speaks them): downloads ' +
        'public, uploads with a token or a client certificate; stops on SIGTERM or SIGINT',
    )
    .requiredOption('--dir <dir>', 'the directory of its blobs, index and first upload token (created 0700)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--port <port>', `port to listen on, 0 for any free one (default ${DEFAULT_CACHE_PORT})`)
    .option('--max-upload-size <size>', 'largest blob accepted, e.g. 500M, 8G (default 8G)')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; with --tls-key)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option(
      '--client-ca <file>',
      "client certificates issued by this CA may upload (master mode: the master's ca.crt, so its compute nodes upload)",
    )
    .option(
      '--client-kind <kinds>',
      'the subject organisations (O=) of client certificates allowed to upload, comma-separated or repeated; * for any (default compute_node)',
      collect,
    )
    .option('--json', 'print where it listens as JSON (url, shacache_url, shadir_url, dir, token_file)')
    .action(async (flags: CacheStartFlags) => {
      await cacheStart(ctx, flags);
    });
}
