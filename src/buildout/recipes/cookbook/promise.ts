/**
 * Promises as data the node's promise runner reads (docs/promises.md): instead of the Python files
 * the original writes, these recipes write `<partition>/etc/promise.d/<title>.json`.
 *
 * - `slapos.cookbook:promise.plugin` (profiles.md §3.16; what the monitor stack's
 *   `[monitor-promise-base]` macro uses: `module = slapos.promise.plugin.${:promise}`,
 *   `output = ${directory:plugins}/${:name}`): the title is the output's file name without `.py`;
 *   `module` (dotted, or the bare plugin name of older profiles) and the `config-<k>` options are
 *   translated: `check_socket_listening` (`host` + `port`, or `pathname`) → `socket`,
 *   `check_url_available` (`url`, `http_code`, `timeout`) → `url`, `check_file_state`
 *   (`filename`, `state` absent|empty|not-empty) → `file`, `check_command_execute` (`command`) →
 *   `command`; `frequency` (minutes) → `periodicity`, `failure-amount`, `perdiodic-only`,
 *   `report-anomaly`. Another plugin, a `file` or `content` of Python code → an error naming the
 *   section.
 * - `slapos.cookbook:check_port_listening` (§3.17): `path` (its file name is the title), `hostname`,
 *   `port` → `socket`.
 */
import { basename, join } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { isTrue, writeIfChanged } from '../common.ts';

type Definition = Record<string, string | number | boolean>;

const PLUGIN_PREFIX = 'slapos.promise.plugin.';
const SUPPORTED = [
  'check_socket_listening',
  'check_url_available',
  'check_file_state',
  'check_command_execute',
];

function config(ctx: RecipeContext): Map<string, string> {
  const values = new Map<string, string>();
  for (const key of ctx.options.keys())
    if (key.startsWith('config-')) values.set(key.slice('config-'.length), ctx.options.get(key) ?? '');
  return values;
}

function integer(ctx: RecipeContext, text: string, option: string, min: number, max: number): number {
  const value = Number(text.trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw ctx.error(`expected an integer from ${min} to ${max}, got ${JSON.stringify(text)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  }
  return value;
}

function refuse(ctx: RecipeContext, option: string, message: string): never {
  throw ctx.error(message, { option, code: 'SLAP_ERR_RECIPE_UNSUPPORTED' });
}

/** The plugin module named by `module` (or the old `content` import line). */
function pluginName(ctx: RecipeContext): string {
  const module = ctx.options.get('module')?.trim();
  if (module) return module.startsWith(PLUGIN_PREFIX) ? module.slice(PLUGIN_PREFIX.length) : module;
  const content = ctx.options.get('content')?.trim();
  const imported = content
    ? /^from\s+slapos\.promise\.plugin\.(\w+)\s+import\s+RunPromise$/.exec(content)
    : null;
  if (imported?.[1]) return imported[1];
  if (content) refuse(ctx, 'content', 'a promise given as Python code cannot run in this engine');
  if (ctx.options.get('file'))
    refuse(ctx, 'file', 'a promise given as a Python file cannot run in this engine');
  throw ctx.error('one of "module" or "file" is required', { option: 'module', code: 'SLAP_ERR_PROFILE' });
}

function socketCheck(ctx: RecipeContext, values: Map<string, string>): Definition {
  const host = values.get('host');
  const port = values.get('port');
  const path = values.get('pathname');
  if (values.get('abstract'))
    refuse(ctx, 'config-abstract', 'abstract unix sockets are not checked by the node');
  if (host) {
    if (path || !port)
      throw ctx.error('give config-host with config-port, or config-pathname', {
        option: 'config-host',
        code: 'SLAP_ERR_PROFILE',
      });
    return { kind: 'socket', host, port: integer(ctx, port, 'config-port', 1, 65535) };
  }
  if (!path)
    throw ctx.error('give config-host with config-port, or config-pathname', {
      option: 'config-host',
      code: 'SLAP_ERR_PROFILE',
    });
  return { kind: 'socket', path };
}

function urlCheck(ctx: RecipeContext, values: Map<string, string>): Definition {
  const url = values.get('url');
  if (!url) throw ctx.error('"config-url" is required', { option: 'config-url', code: 'SLAP_ERR_PROFILE' });
  for (const key of ['ca-cert-file', 'cert-file', 'key-file'])
    if (values.get(key))
      refuse(ctx, `config-${key}`, "client certificates are not supported by the node's url promise");
  if (values.get('check-secure') === '1')
    refuse(
      ctx,
      'config-check-secure',
      "accepting 401 as success is not expressible in the node's url promise",
    );
  const check: Definition = { kind: 'url', url };
  const status = values.get('http_code') ?? values.get('http-code');
  if (status) check.status = integer(ctx, status, 'config-http_code', 100, 599);
  const timeout = values.get('timeout');
  if (timeout) check.timeout = integer(ctx, timeout, 'config-timeout', 1, 3600);
  return check;
}

function fileCheck(ctx: RecipeContext, values: Map<string, string>): Definition {
  const path = values.get('filename');
  if (!path)
    throw ctx.error('"config-filename" is required', { option: 'config-filename', code: 'SLAP_ERR_PROFILE' });
  switch (values.get('state')) {
    case 'absent':
      return { kind: 'file', path, exists: false };
    case 'empty':
      return { kind: 'file', path, 'max-size': 0 };
    case 'not-empty':
      return { kind: 'file', path, 'min-size': 1 };
    default:
      throw ctx.error('"config-state" must be absent, empty or not-empty', {
        option: 'config-state',
        code: 'SLAP_ERR_PROFILE',
      });
  }
}

function pluginCheck(ctx: RecipeContext): Definition {
  const plugin = pluginName(ctx);
  const values = config(ctx);
  let check: Definition;
  switch (plugin) {
    case 'check_socket_listening':
      check = socketCheck(ctx, values);
      break;
    case 'check_url_available':
      check = urlCheck(ctx, values);
      break;
    case 'check_file_state':
      check = fileCheck(ctx, values);
      break;
    case 'check_command_execute': {
      const command = values.get('command');
      if (!command)
        throw ctx.error('"config-command" is required', {
          option: 'config-command',
          code: 'SLAP_ERR_PROFILE',
        });
      check = { kind: 'command', command };
      break;
    }
    default:
      refuse(
        ctx,
        'module',
        `promise plugin ${plugin} is Python code this engine does not run (translated plugins: ${SUPPORTED.join(', ')})`,
      );
  }
  const frequency = values.get('frequency');
  if (frequency) {
    const minutes = Number(frequency);
    if (!Number.isFinite(minutes) || minutes <= 0)
      throw ctx.error(`not a number of minutes: ${JSON.stringify(frequency)}`, {
        option: 'config-frequency',
        code: 'SLAP_ERR_PROFILE',
      });
    check.periodicity = Math.max(1, Math.round(minutes * 60));
  }
  const failureAmount = values.get('failure-amount');
  if (failureAmount) check['failure-amount'] = integer(ctx, failureAmount, 'config-failure-amount', 1, 100);
  if (isTrue(values.get('perdiodic-only'))) check.test = false;
  if (values.has('report-anomaly') && !isTrue(values.get('report-anomaly'), true)) check.anomaly = false;
  check.description = `[${ctx.name}] ${ctx.recipe} ${plugin}`;
  return check;
}

/** Writes the definition (only if it changed) and returns its path. */
async function writePromise(ctx: RecipeContext, title: string, check: Definition): Promise<string> {
  if (!/^[^/\\\0]+$/.test(title) || title.startsWith('.'))
    throw ctx.error(`not a promise name: ${JSON.stringify(title)}`, { code: 'SLAP_ERR_PROFILE' });
  const path = join(ctx.directories.directory, 'etc', 'promise.d', `${title}.json`);
  ctx.created(path);
  await writeIfChanged(path, `${JSON.stringify(check, null, 2)}\n`, 0o644);
  return path;
}

export const promisePlugin: Recipe = {
  version: '1',
  init(ctx) {
    ctx.options.set('eggs-directory', ctx.directories.eggs);
    ctx.options.set('develop-eggs-directory', ctx.directories.developEggs);
    ctx.state.set('check', pluginCheck(ctx));
  },
  async install(ctx) {
    const title = basename(ctx.options.require('output')).replace(/\.py$/, '');
    return [await writePromise(ctx, title, ctx.state.get('check') as Definition)];
  },
};

export const checkPortListening: Recipe = {
  version: '1',
  async install(ctx) {
    const title = basename(ctx.options.require('path'));
    const port = integer(ctx, ctx.options.require('port'), 'port', 1, 65535);
    const check = {
      kind: 'socket',
      host: ctx.options.get('hostname') || 'localhost',
      port,
      description: `[${ctx.name}] ${ctx.recipe}`,
    };
    return [await writePromise(ctx, title, check)];
  },
};
