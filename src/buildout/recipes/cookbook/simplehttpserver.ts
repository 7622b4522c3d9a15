/**
 * `slapos.cookbook:simplehttpserver`: init checks that exactly one of (`host` with `port`),
 * `socketpath` or `abstract` is given and sets `address` as the original (a `!py!` tuple
 * `(host, port)`, the socket path, or NUL + the abstract name). Install writes `wrapper` (0700):
 * a shell script running this package's server (simplehttpserver-main.ts) with node, serving
 * `base-path`, logging to `log-file`, over HTTPS with `cert-file` (+ `key-file`), accepting POST
 * writes with `allow-write`. The original's wrapper is a Python script calling its own server
 * module (not `python3 -m http.server`), so this one runs ours.
 */
import { PyTuple } from '../../py-value.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { isTrue, requirePath, withoutNul, writeIfChanged } from '../common.ts';
import { nodeMainCommand } from './node-main.ts';
import { execWrapperScript } from './shell.ts';

function listen(ctx: RecipeContext): string[] {
  const [host, port, socket, abstract] = ['host', 'port', 'socketpath', 'abstract'].map(
    (key) => ctx.options.get(key) || '',
  ) as [string, string, string, string];
  if ([host, socket, abstract].filter((v) => v !== '').length !== 1 || (host === '') !== (port === ''))
    throw ctx.error('Specify one of (host, port) | socketpath | abstract', { code: 'SLAP_ERR_PROFILE' });
  if (host !== '') {
    if (!/^[0-9]+$/.test(port.trim()) || Number(port) > 65535)
      throw ctx.error(`not a port number: ${JSON.stringify(port)}`, {
        option: 'port',
        code: 'SLAP_ERR_PROFILE',
      });
    return ['--host', withoutNul(ctx, 'host', host), '--port', String(Number(port))];
  }
  if (socket !== '') return ['--socket', withoutNul(ctx, 'socketpath', socket)];
  return ['--abstract', withoutNul(ctx, 'abstract', abstract)];
}

export function simplehttpserverCommand(ctx: RecipeContext): string[] {
  const option = (name: string): string => withoutNul(ctx, name, ctx.options.require(name));
  const certFile = ctx.options.get('cert-file');
  const keyFile = ctx.options.get('key-file');
  return [
    ...nodeMainCommand('simplehttpserver-main'),
    '--cwd',
    option('base-path'),
    '--log-file',
    option('log-file'),
    ...listen(ctx),
    ...(certFile ? ['--cert-file', withoutNul(ctx, 'cert-file', certFile)] : []),
    ...(certFile && keyFile ? ['--key-file', withoutNul(ctx, 'key-file', keyFile)] : []),
    ...(isTrue(ctx.options.get('allow-write')) ? ['--allow-write'] : []),
  ];
}

async function write(ctx: RecipeContext): Promise<string[]> {
  const path = withoutNul(ctx, 'wrapper', requirePath(ctx, 'wrapper').trim());
  const text = execWrapperScript(simplehttpserverCommand(ctx));
  ctx.created(path);
  await writeIfChanged(path, text, 0o700);
  return [path];
}

export const simplehttpserver: Recipe = {
  version: '1',
  init(ctx) {
    listen(ctx);
    const host = ctx.options.get('host');
    if (host) ctx.options.set('address', new PyTuple([host, Number(ctx.options.get('port'))]));
    else
      ctx.options.set('address', ctx.options.get('socketpath') || `\0${ctx.options.get('abstract') ?? ''}`);
  },
  install: write,
  update: write,
};
