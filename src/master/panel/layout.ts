/** The page shell every panel page shares: head, skip link, navigation, sign-out, main. */
import type { Caller } from '../services/index.ts';
import { html, type Html } from './html.ts';
import type { PanelPage, PanelSection } from './panel-routes.ts';
import type { StaticAssets } from './static-assets.ts';

export interface LayoutContext {
  caller: Caller | undefined;
  mode: 'proxy' | 'master';
  /** Whether a sign-out button makes sense (a session cookie, not an open proxy). */
  signedIn: boolean;
  csrfField: () => Html;
  assets: StaticAssets;
}

interface NavEntry {
  section: PanelSection;
  href: string;
  label: string;
}

function navEntries(context: LayoutContext): NavEntry[] {
  const entries: NavEntry[] = [
    { section: 'services', href: '/panel/services', label: 'Services' },
    { section: 'request', href: '/panel/request', label: 'Request' },
    { section: 'nodes', href: '/panel/nodes', label: 'Nodes' },
  ];
  if (context.mode === 'master')
    entries.push(
      { section: 'tokens', href: '/panel/tokens', label: 'Tokens' },
      { section: 'invoices', href: '/panel/invoices', label: 'Invoices' },
    );
  return entries;
}

function who(caller: Caller | undefined): string | undefined {
  if (caller?.kind === 'user') return caller.admin ? `${caller.userId} (admin)` : caller.userId;
  if (caller?.kind === 'local') return 'local';
  return undefined;
}

export function renderLayout(page: PanelPage, context: LayoutContext): Html {
  const user = who(context.caller);
  const nav =
    context.caller === undefined
      ? ''
      : html`<nav aria-label="Main">
          <ul>
            ${navEntries(context).map(
              (entry) =>
                html`<li>
                  <a href="${entry.href}" ${entry.section === page.section ? html`aria-current="page"` : ''}
                    >${entry.label}</a
                  >
                </li>`,
            )}
          </ul>
        </nav>`;
  const account =
    user === undefined
      ? ''
      : html`<div class="account">
          <span>Signed in as <strong>${user}</strong></span>
          ${
            context.signedIn
              ? html`<form method="post" action="/panel/sign-out">
                  ${context.csrfField()}<button type="submit">Sign out</button>
                </form>`
              : ''
          }
        </div>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${page.title} · SlapOS</title>
        <link rel="stylesheet" href="${context.assets.url('panel.css')}" />
        <script src="${context.assets.url('panel.js')}" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <a class="brand" href="/panel/">SlapOS</a>
          ${nav} ${account}
        </header>
        <main id="main" tabindex="-1">
          <h1>${page.title}</h1>
          ${page.body}
        </main>
      </body>
    </html>`;
}
