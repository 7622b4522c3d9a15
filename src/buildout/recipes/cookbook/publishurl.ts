/**
 * `slapos.cookbook:publishurl`: publishes one connection parameter, `url`: the `url` option as
 * it is, or the URL joined from `scheme` and `host` (both then required: "No scheme specified.",
 * "No host specified.") with `path`, `params`, `query`, `fragment`, `port`, and `username`
 * (+ `password`) before `@`, an IPv6 host put in brackets (librecipe's unparseUrl, which does not
 * quote the credentials). Install and update publish (as publish.ts does, with the partition's
 * connection); nothing is owned.
 */
import { urlunparse } from '../../../core/python-urllib.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { partitionInstance, slapConnection, withMaster } from './slap.ts';

export interface UrlParts {
  scheme: string;
  host: string;
  path?: string | undefined;
  params?: string | undefined;
  query?: string | undefined;
  fragment?: string | undefined;
  port?: string | undefined;
  auth?: readonly string[] | undefined;
}

/** librecipe's `_unparseUrl` (Python's `urlunparse` of the joined netloc). */
export function unparseUrl(p: UrlParts): string {
  let netloc = '';
  if (p.auth !== undefined) netloc = `${p.auth.join(':')}@`;
  netloc += p.host.includes(':') && !/^\[.*\]$/s.test(p.host) ? `[${p.host}]` : p.host;
  if (p.port !== undefined) netloc += `:${p.port}`;
  return urlunparse([p.scheme, netloc, p.path ?? '', p.params ?? '', p.query ?? '', p.fragment ?? '']);
}

function url(ctx: RecipeContext): string {
  const { options } = ctx;
  const given = options.get('url');
  if (given !== undefined) return given;
  const scheme = options.get('scheme');
  if (scheme === undefined)
    throw ctx.error('No scheme specified.', { option: 'scheme', code: 'SLAP_ERR_PROFILE' });
  const host = options.get('host');
  if (host === undefined) throw ctx.error('No host specified.', { option: 'host', code: 'SLAP_ERR_PROFILE' });
  const username = options.get('username');
  const password = options.get('password');
  const auth =
    username === undefined ? undefined : password === undefined ? [username] : [username, password];
  return unparseUrl({
    scheme,
    host,
    path: options.get('path'),
    params: options.get('params'),
    query: options.get('query'),
    fragment: options.get('fragment'),
    port: options.get('port'),
    auth,
  });
}

async function publishUrl(ctx: RecipeContext): Promise<string[]> {
  const parameters = { url: url(ctx) };
  const connection = await slapConnection(ctx);
  const { instance_guid: instanceGuid } = await partitionInstance(ctx, connection);
  await withMaster(ctx, connection, (client) =>
    client.setConnectionParameters({ instanceGuid, parameters }, { signal: ctx.signal }),
  );
  return [];
}

export const publishurl: Recipe = {
  version: '1',
  init(ctx) {
    url(ctx);
  },
  install: publishUrl,
  update: publishUrl,
};
