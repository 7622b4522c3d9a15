/**
 * What a panel page module sees and gives back. A module registers its routes on `PanelRoutes`;
 * each handler receives the authenticated caller and the services (views read only through them,
 * forms call the same use cases as the API) and answers a page or a redirect. The plugin
 * (panel-plugin.ts) authenticates, checks CSRF on every POST and renders the layout.
 */
import { TEXT_RULES } from '../../core/text-rules.ts';
import type { Caller, MasterServices } from '../services/index.ts';
import type { Html } from './html.ts';

/** The fields of a posted form (names may repeat: checkboxes, key/value rows). */
export class PanelForm {
  constructor(private readonly pairs: readonly (readonly [string, string])[]) {}

  static empty(): PanelForm {
    return new PanelForm([]);
  }

  /** The first value of a field. */
  get(name: string): string | undefined {
    return this.pairs.find(([key]) => key === name)?.[1];
  }

  /** Every value of a field, in order. */
  all(name: string): string[] {
    return this.pairs.filter(([key]) => key === name).map(([, value]) => value);
  }

  /** Every field, in order. */
  entries(): readonly (readonly [string, string])[] {
    return this.pairs;
  }
}

export type PanelSection = 'services' | 'request' | 'nodes' | 'tokens' | 'invoices' | 'sign-in' | 'error';

export interface PanelRequest {
  caller: Caller;
  services: MasterServices;
  mode: 'proxy' | 'master';
  /** Route parameters, decoded. */
  params: Readonly<Record<string, string>>;
  /** The query string (filters, `next`…). */
  query: URLSearchParams;
  /** A POST's form (its CSRF token already checked); empty for a GET. */
  form: PanelForm;
  /** The hidden field every form of the page must hold. */
  csrfField(): Html;
}

export interface PanelPage {
  kind: 'page';
  /** The `<title>` and the first heading's text. */
  title: string;
  /** The navigation entry shown as current. */
  section: PanelSection;
  body: Html;
  /** Default 200; a form refused with errors is re-rendered with 400. */
  status?: number;
}

export interface PanelRedirect {
  kind: 'redirect';
  /** A path of the panel (`/panel/...`). */
  location: string;
}

/** A document to download (an invoice's PDF), sent as it is, outside the layout. */
export interface PanelFile {
  kind: 'file';
  contentType: string;
  /** The name a browser saves it under (plain ASCII: letters, digits, `.`, `-`, `_`). */
  fileName: string;
  body: Buffer;
}

export type PanelAnswer = PanelPage | PanelRedirect | PanelFile;

export type PanelHandler = (request: PanelRequest) => Promise<PanelAnswer>;

export interface PanelRoutes {
  /** `path` is relative to `/panel` (e.g. `/services/:title`). */
  get(path: string, handler: PanelHandler): void;
  post(path: string, handler: PanelHandler): void;
}

export function page(title: string, section: PanelSection, body: Html, status?: number): PanelPage {
  return status === undefined
    ? { kind: 'page', title, section, body }
    : { kind: 'page', title, section, body, status };
}

/** A document to download; `fileName` is reduced to plain ASCII. */
export function file(body: Buffer, contentType: string, fileName: string): PanelFile {
  return { kind: 'file', contentType, fileName: fileName.replace(/[^A-Za-z0-9._-]/g, '_'), body };
}

/** A 303 to a panel path (after a POST, the browser GETs it). */
export function redirect(location: string): PanelRedirect {
  return { kind: 'redirect', location };
}

/**
 * The longest route parameter the panel takes, percent-encoded: a title or a name at its longest,
 * each UTF-16 unit of it up to 9 characters (3 bytes of UTF-8, `%XX` each). The HTTP server's
 * `maxParamLength` (fastify's default, 100, answers 414 to a 200-character title).
 */
export const PANEL_MAX_PARAM_LENGTH = Math.max(TEXT_RULES.title.maxLength, TEXT_RULES.name.maxLength) * 9;

/** The panel path of a URL path segment built from a value (a title may hold `/`, `?`, `#`…). */
export function pathSegment(value: string): string {
  return encodeURIComponent(value);
}

type RouteKey = `${'get' | 'post'} ${string}`;

/**
 * Registers a page module's routes now and loads the module on their first request: for pages
 * whose code needs libraries a master should not load to start (the request forms' JSON schema
 * validator). `routes` lists what the module registers.
 */
export function registerLazily(
  routes: PanelRoutes,
  paths: readonly RouteKey[],
  load: () => Promise<{ register(routes: PanelRoutes): void }>,
): void {
  let handlers: Promise<Map<string, PanelHandler>> | undefined;
  const handlerOf = async (key: RouteKey): Promise<PanelHandler> => {
    handlers ??= load().then((module) => {
      const found = new Map<string, PanelHandler>();
      module.register({
        get: (path, handler) => void found.set(`get ${path}`, handler),
        post: (path, handler) => void found.set(`post ${path}`, handler),
      });
      return found;
    });
    const handler = (await handlers).get(key);
    if (!handler) throw new Error(`the lazily loaded page module has no route ${key}`);
    return handler;
  };
  for (const key of paths) {
    const [method, path] = key.split(' ', 2) as ['get' | 'post', string];
    routes[method](path, async (request) => (await handlerOf(key))(request));
  }
}
