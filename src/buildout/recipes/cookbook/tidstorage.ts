/**
 * `slapos.cookbook:tidstorage`: `configuration-path` (0600), the TIDStorage configuration (a
 * Python file, as the original's template), `repozo-wrapper` (0700) `exec <tidstorage-repozo-binary>
 * --config <conf> --repozo <repozo-binary> --gzip --quick`, and with `tidstorage-wrapper` (0700)
 * `exec <tidstoraged-binary> --nofork --config <conf>`. Update rewrites what changed; the part
 * owns them.
 *
 * The configuration holds Python code: `known-tid-storage-identifier-dict` (a `!py!` value, or
 * the text of a Python literal) is written as its Python repr, the strings as Python string
 * literals and `port` must be an integer, so that no value can add a statement.
 */
import { resolve } from 'node:path';
import { evaluate, parseExpression } from '../../py-expr.ts';
import { pyRepr, pyStrRepr, serialise } from '../../py-value.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';
import { execWrapperScript } from './shell.ts';

function literal(ctx: RecipeContext, option: string): string {
  const value = ctx.options.getValue(option);
  if (value === undefined) throw ctx.error(`"${option}" is required`, { option, code: 'SLAP_ERR_PROFILE' });
  if (typeof value !== 'string' || ctx.options.getText(option)?.startsWith('!py')) return pyRepr(value);
  let parsed;
  try {
    parsed = evaluate(parseExpression(value), {});
  } catch (error) {
    throw ctx.error(`not a Python literal: ${(error as Error).message}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  }
  try {
    serialise(parsed); // refuses what is not data (functions, modules)
  } catch {
    throw ctx.error('not a Python literal', { option, code: 'SLAP_ERR_PROFILE' });
  }
  return pyRepr(parsed);
}

/** The configuration text. */
export function tidstorageConf(o: {
  known: string;
  ip: string;
  port: string;
  timestampFile: string;
  logfile: string;
  pidfile: string;
  statusFile: string;
}): string {
  return [
    `known_tid_storage_identifier_dict = ${o.known}`,
    `address = ${pyStrRepr(o.ip)}`,
    `port = ${o.port}`,
    '',
    '#fork = False',
    '#setuid = None',
    '#setgid = None',
    'burst_period = 30',
    'full_dump_period = 300',
    '',
    `timestamp_file_path = ${pyStrRepr(o.timestampFile)}`,
    `logfile_name = ${pyStrRepr(o.logfile)}`,
    `pidfile_name = ${pyStrRepr(o.pidfile)}`,
    `status_file = ${pyStrRepr(o.statusFile)}`,
    '',
  ].join('\n');
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const { options } = ctx;
  const port = options.require('port').trim();
  if (!/^[0-9]+$/.test(port))
    throw ctx.error(`not a port: ${JSON.stringify(port)}`, { option: 'port', code: 'SLAP_ERR_PROFILE' });
  const configuration = options.require('configuration-path');
  const dir = ctx.directories.directory;
  const confPath = resolve(dir, configuration);
  const conf = tidstorageConf({
    known: literal(ctx, 'known-tid-storage-identifier-dict'),
    ip: options.require('ip'),
    port,
    timestampFile: options.require('timestamp-file-path'),
    logfile: options.require('logfile-name'),
    pidfile: options.require('pidfile-name'),
    statusFile: options.require('status-file'),
  });
  ctx.created(confPath);
  await writeIfChanged(confPath, conf, 0o600);
  const paths = [confPath];
  const daemon = options.get('tidstorage-wrapper');
  if (daemon) {
    const path = resolve(dir, daemon);
    const script = execWrapperScript([
      options.require('tidstoraged-binary'),
      '--nofork',
      '--config',
      configuration,
    ]);
    await writeIfChanged(path, script, 0o700);
    paths.push(path);
  }
  const repozo = resolve(dir, options.require('repozo-wrapper'));
  const repozoScript = execWrapperScript([
    options.require('tidstorage-repozo-binary'),
    '--config',
    configuration,
    '--repozo',
    options.require('repozo-binary'),
    '--gzip',
    '--quick',
  ]);
  await writeIfChanged(repozo, repozoScript, 0o700);
  paths.push(repozo);
  return paths;
}

export const tidstorage: Recipe = { version: '1', install, update: install };
