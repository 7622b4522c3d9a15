/**
 * What a panel page module sees and gives back. A module registers its routes on `PanelRoutes`;
 * each handler receives the authenticated caller and the services (views read only through them,
 * forms call the same use cases as the API) and answers a page or a redirect. The plugin
 * (panel-plugin.ts) authenticates, checks CSRF on every POST and renders the layout.
 */
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

export type PanelSection = 'services' | 'request' | 'nodes' | 'tokens' | 'sign-in' | 'error';

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

export type PanelAnswer = PanelPage | PanelRedirect;

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

/** A 303 to a panel path (after a POST, the browser GETs it). */
export function redirect(location: string): PanelRedirect {
  return { kind: 'redirect', location };
}

/** The panel path of a URL path segment built from a value (a title may hold `/`, `?`, `#`…). */
export function pathSegment(value: string): string {
  return encodeURIComponent(value);
}
