/**
 * `slapos.cookbook:free_port` (profiles.md §3.19): during init, sets `port`: the one recorded at
 * this part's last install if not 0 (the service holds it now), else `minimum` when it equals
 * `maximum`, else the first port of [`minimum`, `maximum`) (defaults 1024, 49151) that can be bound
 * on `ip`, else 0 (also when `ip` is not an address). Install and update do nothing.
 */
import { createServer } from 'node:net';
import { isIP } from 'node:net';
import type { Recipe, RecipeContext } from '../../recipe.ts';

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function bound(ctx: RecipeContext, option: string, fallback: number): number {
  const text = ctx.options.get(option) ?? String(fallback);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw ctx.error(`not a port number: ${JSON.stringify(text)}`, { option, code: 'SLAP_ERR_PROFILE' });
  return value;
}

async function freePort(ctx: RecipeContext): Promise<number> {
  const previous = ctx.previous?.port;
  if (previous && previous !== '0') return Number(previous);
  const minimum = bound(ctx, 'minimum', 1024);
  const maximum = bound(ctx, 'maximum', 49151);
  if (minimum === maximum) return minimum;
  const ip = ctx.options.get('ip') ?? '';
  if (isIP(ip) === 0) return 0;
  for (let port = minimum; port < maximum; port++) {
    ctx.signal.throwIfAborted();
    if (await canBind(ip, port)) return port;
  }
  return 0;
}

export const freePortRecipe: Recipe = {
  version: '1',
  async init(ctx) {
    ctx.options.set('port', String(await freePort(ctx)));
  },
  install: () => [],
  update: () => undefined,
};
