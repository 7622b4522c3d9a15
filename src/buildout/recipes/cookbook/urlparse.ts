/**
 * `slapos.cookbook:urlparse`: during init, splits `url` as Python's `urllib.parse.urlparse` does
 * and sets `scheme`, `username`, `password`, `host`, `port`, `path` (without its leading and
 * trailing `/`), `params`, `query` and `fragment` (absent parts are empty). Install does nothing.
 * A URL Python refuses (bad port, unbalanced or invalid brackets) is a profile error.
 */
import {
  UrlValueError,
  netlocHostname,
  netlocPort,
  netlocUserinfo,
  urlparse as parseUrl,
} from '../../../core/python-urllib.ts';
import type { Recipe } from '../../recipe.ts';

export interface ParsedUrl {
  scheme: string;
  netloc: string;
  path: string;
  params: string;
  query: string;
  fragment: string;
  username: string | undefined;
  password: string | undefined;
  hostname: string | undefined;
  port: number | undefined;
}

/** `urllib.parse.urlparse(url)` with its `username`, `password`, `hostname` and `port`. */
export function pythonUrlparse(url: string): ParsedUrl {
  const [scheme, netloc, path, params, query, fragment] = parseUrl(url);
  const [username, password] = netlocUserinfo(netloc);
  return {
    scheme,
    netloc,
    path,
    params,
    query,
    fragment,
    username: username ?? undefined,
    password: password ?? undefined,
    hostname: netlocHostname(netloc) ?? undefined,
    port: netlocPort(netloc) ?? undefined,
  };
}

export const urlparse: Recipe = {
  version: '1',
  init(ctx) {
    const url = ctx.options.require('url');
    let parsed: ParsedUrl;
    try {
      parsed = pythonUrlparse(url);
    } catch (error) {
      if (!(error instanceof UrlValueError)) throw error;
      throw ctx.error(`cannot parse the URL: ${error.message}`, { option: 'url', code: 'SLAP_ERR_PROFILE' });
    }
    const values: Record<string, string> = {
      scheme: parsed.scheme,
      username: parsed.username ?? '',
      password: parsed.password ?? '',
      host: parsed.hostname ?? '',
      port: parsed.port === undefined ? '' : String(parsed.port),
      path: parsed.path.replace(/^\/+|\/+$/g, ''),
      params: parsed.params,
      query: parsed.query,
      fragment: parsed.fragment,
    };
    for (const [key, value] of Object.entries(values)) ctx.options.set(key, value);
  },
  install() {
    return [];
  },
};
