/**
 * `slapos.cookbook:redis.server`: a Redis configuration, its service wrapper and an optional
 * promise wrapper.
 *
 * `config-file` (0600): the directives of the original's template, in its order, with `pidfile`
 * = `pid-file`, `port`, `bind` = `ipv6`, `unixsocket` + `unixsocketperm 700` when `unixsocket` is
 * set, `logfile` = `log-file`, `dir` = `server-dir`, and `masterauth` = `passwd` when `use-passwd`
 * is true (a commented line otherwise). Values are written bare when they are plain, else in
 * Redis's double-quoted form, so no value can add a directive.
 * `wrapper` (0700): `exec <server-bin> <config-file> "$@"`. `promise-wrapper` (0700, optional):
 * `exec <cli-bin> -h <ipv6> -p <port> [-s <unixsocket>] publish Promise-Service 'SlapOS Promise'`.
 * Install and update write what changed; the part owns the three files.
 */
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { isTrue, writeIfChanged } from '../common.ts';
import { execWrapperScript } from './shell.ts';

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A Redis configuration argument: bare when plain, else `"…"` with `\\`, `"` and control characters escaped. */
export function redisQuote(value: string): string {
  if (PLAIN.test(value)) return value;
  const body = value.replace(/[\\"\0-\x1f\x7f]/g, (c) =>
    c === '\\' || c === '"' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return `"${body}"`;
}

export interface RedisSettings {
  pidFile: string;
  port: string;
  ipv6: string;
  serverDir: string;
  logFile: string;
  unixsocket: string | undefined;
  masterauth: string | undefined;
}

/** The configuration text: the effective directives of the original's template. */
export function redisConf(s: RedisSettings): string {
  const q = redisQuote;
  return [
    'daemonize no',
    `pidfile ${q(s.pidFile)}`,
    `port ${s.port}`,
    'tcp-backlog 511',
    `bind ${q(s.ipv6)}`,
    s.unixsocket === undefined ? '' : `unixsocket ${q(s.unixsocket)}\nunixsocketperm 700`,
    'timeout 0',
    'tcp-keepalive 0',
    'loglevel notice',
    `logfile ${q(s.logFile)}`,
    'databases 16',
    'save 900 1',
    'save 300 10',
    'save 60 10000',
    'stop-writes-on-bgsave-error yes',
    'rdbcompression yes',
    'rdbchecksum yes',
    'dbfilename dump.rdb',
    `dir ${q(s.serverDir)}`,
    s.masterauth === undefined ? '# masterauth <master-password>' : `masterauth ${q(s.masterauth)}`,
    'slave-serve-stale-data yes',
    'slave-read-only yes',
    'repl-diskless-sync no',
    'repl-diskless-sync-delay 5',
    'repl-disable-tcp-nodelay no',
    'slave-priority 100',
    'appendonly no',
    'appendfilename "appendonly.aof"',
    'appendfsync everysec',
    'no-appendfsync-on-rewrite no',
    'auto-aof-rewrite-percentage 100',
    'auto-aof-rewrite-min-size 64mb',
    'aof-load-truncated yes',
    'lua-time-limit 5000',
    'slowlog-log-slower-than 10000',
    'slowlog-max-len 128',
    'latency-monitor-threshold 0',
    'notify-keyspace-events ""',
    'hash-max-ziplist-entries 512',
    'hash-max-ziplist-value 64',
    'list-max-ziplist-entries 512',
    'list-max-ziplist-value 64',
    'set-max-intset-entries 512',
    'zset-max-ziplist-entries 128',
    'zset-max-ziplist-value 64',
    'hll-sparse-max-bytes 3000',
    'activerehashing yes',
    'client-output-buffer-limit normal 0 0 0',
    'client-output-buffer-limit slave 256mb 64mb 60',
    'client-output-buffer-limit pubsub 32mb 8mb 60',
    'hz 10',
    'aof-rewrite-incremental-fsync yes',
    '',
  ].join('\n');
}

function settings(ctx: RecipeContext): RedisSettings {
  const port = ctx.options.require('port').trim();
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535)
    throw ctx.error(`not a port: ${JSON.stringify(port)}`, { option: 'port', code: 'SLAP_ERR_PROFILE' });
  const unixsocket = ctx.options.get('unixsocket') || undefined;
  return {
    pidFile: ctx.options.require('pid-file'),
    port,
    ipv6: ctx.options.require('ipv6'),
    serverDir: ctx.options.require('server-dir'),
    logFile: ctx.options.require('log-file'),
    unixsocket,
    masterauth: isTrue(ctx.options.get('use-passwd')) ? ctx.options.require('passwd') : undefined,
  };
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const s = settings(ctx);
  const dir = ctx.directories.directory;
  const configFile = ctx.options.require('config-file').trim();
  const paths: string[] = [];
  const config = resolve(dir, configFile);
  await writeIfChanged(config, redisConf(s), 0o600);
  paths.push(config);
  const wrapper = resolve(dir, ctx.options.require('wrapper'));
  await writeIfChanged(wrapper, execWrapperScript([ctx.options.require('server-bin'), configFile]), 0o700);
  paths.push(wrapper);
  const promise = ctx.options.get('promise-wrapper')?.trim();
  if (promise) {
    const args = [ctx.options.require('cli-bin'), '-h', ctx.options.require('ipv6'), '-p', s.port];
    if (s.unixsocket !== undefined) args.push('-s', ctx.options.require('unixsocket'));
    args.push('publish', 'Promise-Service', 'SlapOS Promise');
    const path = resolve(dir, promise);
    await writeIfChanged(path, execWrapperScript(args), 0o700);
    paths.push(path);
  }
  return paths;
}

export const redisServer: Recipe = {
  version: '1',
  init(ctx) {
    settings(ctx);
  },
  install,
  update: install,
};
