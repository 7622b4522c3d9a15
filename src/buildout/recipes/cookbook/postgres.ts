/**
 * `slapos.cookbook:postgres`: a PostgreSQL cluster in `pgdata-directory`, made with the binaries
 * of `bin` (`initdb`, `postgres`, `pg_ctl`, `psql`).
 *
 * Init sets `url` = `postgresql://<superuser>:<password>@[<first ipv6>]:<port>/<dbname>` when
 * `ipv6` is given (volatile: it carries the password). Install, when `pgdata-directory` does not
 * exist: `initdb -D <pgdata> -A ident -E UTF8 -U <superuser>`, the configuration, `CREATE
 * DATABASE` and the superuser's password (md5) in single-user mode, the run script; the cluster
 * is removed if any of it fails. When it exists: the configuration, the run script, and the
 * password (through `psql` on the socket when the server runs, else in single-user mode).
 * Update is install. The part owns `postgresql.conf`, `pg_hba.conf` and
 * `<services>/postgres-start` (0700), never the cluster.
 *
 * Files as the original writes them: `postgresql.conf` (`listen_addresses` = the `ipv4` and
 * `ipv6` lines, `port`, `max-connections` (default 100), the socket in the cluster directory,
 * mode 0700), `pg_hba.conf` (trust on the socket, md5 on loopback and on each address with
 * `ipv4-netmask-bits` (default 32) / `ipv6-netmask-bits` (default 128)). Addresses, port, counts
 * and netmasks are validated; names with control characters are refused (single-user mode ends a
 * command at a newline); the path is quoted for the configuration file and the shell.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { runStep, stepEnvironment, stepFailure, writeIfChanged } from '../common.ts';
import { shellQuote } from './shell.ts';

const CONTROL = /[\0-\x1f\x7f]/;

function addresses(ctx: RecipeContext, option: 'ipv4' | 'ipv6'): string[] {
  const check = option === 'ipv4' ? isIPv4 : isIPv6;
  const list = (ctx.options.get(option) ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  for (const address of list)
    if (!check(address))
      throw ctx.error(`not an ${option} address: ${JSON.stringify(address)}`, {
        option,
        code: 'SLAP_ERR_PROFILE',
      });
  return list;
}

function integer(ctx: RecipeContext, option: string, fallback: string, max: number): string {
  const text = ctx.options.get(option)?.trim() || fallback;
  if (!/^[0-9]{1,9}$/.test(text) || Number(text) > max)
    throw ctx.error(`not a number from 0 to ${max}: ${JSON.stringify(text)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  return String(Number(text));
}

/** A name that goes into SQL (quoted identifier): no control characters, `"` doubled. */
function sqlName(ctx: RecipeContext, option: string): string {
  const value = ctx.options.require(option);
  if (value === '' || CONTROL.test(value))
    throw ctx.error(`must be non-empty without control characters: ${JSON.stringify(value)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * A postgresql.conf string: `'…'` with `'` doubled, `\` escaped and control characters as octal
 * escapes (the server's GUC string rules); NUL cannot be written.
 */
export function pgConfString(value: string): string {
  if (value.includes('\0')) throw new RangeError('NUL in a configuration value');
  const body = value
    .replaceAll('\\', '\\\\')
    .replaceAll("'", "''")
    .replace(/[\x01-\x1f\x7f]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return `'${body}'`;
}

interface Settings {
  bin: string;
  pgdata: string;
  superuser: string;
  password: string;
  dbname: string;
  port: string;
  ipv4: string[];
  ipv6: string[];
  maxConnections: string;
  ipv4Bits: string;
  ipv6Bits: string;
}

function settings(ctx: RecipeContext): Settings {
  const pgdata = resolve(ctx.directories.directory, ctx.options.require('pgdata-directory'));
  if (pgdata.includes('\0'))
    throw ctx.error('NUL in the path', { option: 'pgdata-directory', code: 'SLAP_ERR_PROFILE' });
  sqlName(ctx, 'superuser');
  sqlName(ctx, 'dbname');
  const port = ctx.options.require('port').trim();
  if (port !== '') integer(ctx, 'port', '', 65535);
  return {
    bin: resolve(ctx.directories.directory, ctx.options.require('bin')),
    pgdata,
    superuser: ctx.options.require('superuser'),
    password: ctx.options.require('password'),
    dbname: ctx.options.require('dbname'),
    port,
    ipv4: addresses(ctx, 'ipv4'),
    ipv6: addresses(ctx, 'ipv6'),
    maxConnections: integer(ctx, 'max-connections', '100', 262143),
    ipv4Bits: integer(ctx, 'ipv4-netmask-bits', '32', 32),
    ipv6Bits: integer(ctx, 'ipv6-netmask-bits', '128', 128),
  };
}

/** The text of `postgresql.conf`. */
export function postgresqlConf(s: Settings): string {
  const listen = [...new Set([...s.ipv4, ...s.ipv6])].join(',');
  return [
    `listen_addresses = ${pgConfString(listen)}`,
    s.port ? `port = ${s.port}` : '',
    'logging_collector = on',
    'log_rotation_size = 50MB',
    `max_connections = ${s.maxConnections}`,
    "datestyle = 'iso, mdy'",
    '',
    "lc_messages = 'C.UTF-8'",
    "lc_monetary = 'C.UTF-8'",
    "lc_numeric = 'C.UTF-8'",
    "lc_time = 'C.UTF-8'",
    "default_text_search_config = 'pg_catalog.english'",
    '',
    `unix_socket_directories = ${pgConfString(s.pgdata)}`,
    'unix_socket_permissions = 0700',
    '',
  ].join('\n');
}

/** The text of `pg_hba.conf` (no final newline, as the original). */
export function pgHbaConf(s: Settings): string {
  const lines = [
    '# TYPE  DATABASE        USER            ADDRESS                 METHOD',
    '',
    '# "local" is for Unix domain socket connections only (check unix_socket_permissions!)',
    'local   all             all                                     trust',
    'host    all             all             127.0.0.1/32            md5',
    'host    all             all             ::1/128                 md5',
  ];
  for (const ip of s.ipv4)
    lines.push(`host    all             all             ${ip}/${s.ipv4Bits}                   md5`);
  for (const ip of s.ipv6)
    lines.push(`host    all             all             ${ip}/${s.ipv6Bits}                   md5`);
  return lines.join('\n');
}

/** The run script: `exec <bin>/postgres -D <pgdata>`. */
export function postgresStartScript(bin: string, pgdata: string): string {
  return `#!/bin/sh\nexec ${shellQuote(`${bin}/postgres`)} \\\n    -D ${shellQuote(pgdata)}\n`;
}

/** Rewrites a file of the cluster in place (keeping its owner and mode) when its content differs. */
async function writeClusterFile(path: string, content: string): Promise<void> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current !== content) await writeFile(path, content);
}

async function createConfig(s: Settings): Promise<string[]> {
  const conf = join(s.pgdata, 'postgresql.conf');
  const hba = join(s.pgdata, 'pg_hba.conf');
  await writeClusterFile(conf, postgresqlConf(s));
  await writeClusterFile(hba, pgHbaConf(s));
  return [conf, hba];
}

async function run(ctx: RecipeContext, step: string, file: string, args: string[], input?: string) {
  if (!existsSync(file))
    throw ctx.error(`File not found: ${file}`, { option: 'bin', code: 'SLAP_ERR_PROFILE' });
  return runStep(ctx, step, file, args, {
    env: stepEnvironment(ctx),
    ...(input === undefined ? {} : { input }),
  });
}

/** Runs SQL in single-user mode (no server running); an `ERROR:` in its output fails the part. */
async function singleUser(ctx: RecipeContext, s: Settings, sql: string): Promise<void> {
  const step = 'postgres --single';
  const result = await run(
    ctx,
    step,
    join(s.bin, 'postgres'),
    ['--single', '-D', s.pgdata, 'postgres'],
    `${sql}\n`,
  );
  if (result.exitCode !== 0 || result.tail.some((line) => /\bERROR:/.test(line)))
    throw ctx.error(stepFailure(step, result), { code: 'SLAP_ERR_RECIPE_FAILED' });
}

/** Whether the server runs (a stale `postmaster.pid` is removed, as the original does). */
async function serverRunning(ctx: RecipeContext, s: Settings): Promise<boolean> {
  const pidFile = join(s.pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const step = 'pg_ctl status';
  const status = await run(ctx, step, join(s.bin, 'pg_ctl'), ['status', '-D', s.pgdata]);
  if (status.exitCode === 0) return true;
  if (status.exitCode === 3) {
    await rm(pidFile, { force: true });
    return false;
  }
  throw ctx.error(stepFailure(step, status), { code: 'SLAP_ERR_RECIPE_FAILED' });
}

async function updateSuperuser(ctx: RecipeContext, s: Settings): Promise<void> {
  const hash = `md5${createHash('md5')
    .update(s.password + s.superuser)
    .digest('hex')}`;
  const sql = `ALTER USER ${sqlName(ctx, 'superuser')} ENCRYPTED PASSWORD '${hash}'`;
  if (await serverRunning(ctx, s)) {
    const step = 'psql';
    const args = ['-h', s.pgdata, '-U', s.superuser, '-d', s.dbname, '-v', 'ON_ERROR_STOP=1'];
    if (s.port) args.splice(2, 0, '-p', s.port);
    const result = await run(ctx, step, join(s.bin, 'psql'), args, `${sql}\n`);
    if (result.exitCode !== 0) throw ctx.error(`Error updating password: ${stepFailure(step, result)}`);
  } else {
    await singleUser(ctx, s, sql);
  }
}

async function startScript(ctx: RecipeContext, s: Settings): Promise<string> {
  const path = join(resolve(ctx.directories.directory, ctx.options.require('services')), 'postgres-start');
  await writeIfChanged(path, postgresStartScript(s.bin, s.pgdata), 0o700);
  return path;
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const s = settings(ctx);
  if (existsSync(s.pgdata)) {
    const paths = await createConfig(s);
    paths.push(await startScript(ctx, s));
    await updateSuperuser(ctx, s);
    return paths;
  }
  try {
    const step = 'initdb';
    const init = await run(ctx, step, join(s.bin, 'initdb'), [
      '-D',
      s.pgdata,
      '-A',
      'ident',
      '-E',
      'UTF8',
      '-U',
      s.superuser,
    ]);
    if (init.exitCode !== 0)
      throw ctx.error(`Could not create cluster directory in ${s.pgdata}: ${stepFailure(step, init)}`, {
        code: 'SLAP_ERR_RECIPE_FAILED',
      });
    const paths = await createConfig(s);
    await singleUser(ctx, s, `CREATE DATABASE ${sqlName(ctx, 'dbname')}`);
    await updateSuperuser(ctx, s);
    paths.push(await startScript(ctx, s));
    return paths;
  } catch (error) {
    // A half-made cluster would be taken for a made one at the next run.
    await rm(s.pgdata, { recursive: true, force: true });
    throw error;
  }
}

export const postgres: Recipe = {
  version: '1',
  init(ctx) {
    const s = settings(ctx);
    const first = s.ipv6[0];
    if (first !== undefined) {
      ctx.options.set('url', `postgresql://${s.superuser}:${s.password}@[${first}]:${s.port}/${s.dbname}`);
      ctx.options.markVolatile('url');
    }
  },
  install,
  update: install,
};
