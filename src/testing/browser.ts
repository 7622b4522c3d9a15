/**
 * A real browser for the panel's tests: Debian's chromium driven by playwright-core, one browser
 * process per test file and a fresh context (cookies, storage) per test. The browser reaches
 * loopback only: every request to another host is aborted (and listed by `blockedRequests`), and its
 * own background traffic is switched off by flags. Without chromium the tests fail with a message
 * saying how to install it: a browser test is never skipped.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import axe from 'axe-core';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';
import { packageRoot } from '../lib/package-root.ts';

/** Where the browser is; SLAPOS_TEST_CHROMIUM may name another build. */
export function chromiumPath(): string {
  return process.env.SLAPOS_TEST_CHROMIUM ?? '/usr/bin/chromium';
}

/** What this machine's chromium needs headless, and no traffic of its own (no update, sync, QUIC…). */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // No name resolves but loopback's: a request that slipped past the routes goes nowhere.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE [::1]',
];

export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Whether a URL stays on this machine's loopback (127.0.0.0/8, [::1], localhost) or in the page. */
export function isLoopbackUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:' || parsed.protocol === 'about:') return true;
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  const host = parsed.hostname;
  return /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]' || host === 'localhost';
}

export interface TestBrowser {
  browser: Browser;
  /** Requests a context tried to send off loopback (aborted): a test asserts there are none. */
  blockedRequests(context: BrowserContext): readonly string[];
  /** A fresh context (no cookies), desktop-sized unless told, its requests held to loopback. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  /** A page in a fresh context. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
  close(): Promise<void>;
}

export async function launchTestBrowser(): Promise<TestBrowser> {
  const executablePath = chromiumPath();
  if (!existsSync(executablePath))
    throw new Error(
      `the panel's browser tests need chromium at ${executablePath} ` +
        '(Debian: apt-get install chromium; .ci/run installs it; or set SLAPOS_TEST_CHROMIUM)',
    );
  // playwright gives the browser a new empty profile (--user-data-dir) of its own.
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS });
  const blocked = new WeakMap<BrowserContext, string[]>();
  const contexts = new Set<BrowserContext>();
  const newContext = async (options: BrowserContextOptions = {}): Promise<BrowserContext> => {
    const context = await browser.newContext({ viewport: DESKTOP, ...options });
    contexts.add(context);
    const blockedRequests: string[] = [];
    blocked.set(context, blockedRequests);
    context.on('close', () => contexts.delete(context));
    await context.route(
      (url) => !isLoopbackUrl(url.href),
      async (route) => {
        blockedRequests.push(route.request().url().slice(0, 200));
        await route.abort('blockedbyclient');
      },
    );
    return context;
  };
  return {
    browser,
    blockedRequests: (context) => blocked.get(context) ?? [],
    newContext,
    async newPage(options) {
      return (await newContext(options)).newPage();
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
    },
  };
}

/**
 * Signs in through the panel's form at `baseUrl` with a token, and waits for the page it leads to.
 * Throws (with the page's alert) when the panel refuses it.
 */
export async function signIn(
  page: Page,
  baseUrl: string,
  token: string,
  next = '/panel/services',
): Promise<void> {
  await page.goto(`${baseUrl}/panel/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Access token').fill(token);
  await Promise.all([
    page.waitForURL((url) => !url.pathname.endsWith('/sign-in')),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

/** What axe-core reports of a rule's violation (the part shown). */
interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/**
 * Runs axe-core on the page as it is and throws, listing them readably, on any `serious` or
 * `critical` violation. axe is evaluated through the DevTools protocol, which the page's strict
 * content security policy does not govern (no inline script is added to the page).
 */
export async function checkAccessibility(page: Page): Promise<void> {
  // The project has no DOM types: what runs in the page is written as expressions.
  if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(axe.source);
  const violations = await page.evaluate<AxeViolation[]>(`axe.run(document).then((result) =>
    result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => ({ target: node.target, failureSummary: node.failureSummary })),
    })))`);
  const serious = violations.filter(
    (violation) => violation.impact === 'serious' || violation.impact === 'critical',
  );
  if (serious.length === 0) return;
  const lines = serious.flatMap((violation) => [
    `${violation.impact}: ${violation.id}: ${violation.help}`,
    ...violation.nodes
      .slice(0, 5)
      .map(
        (node) => `  at ${JSON.stringify(node.target)}: ${(node.failureSummary ?? '').replace(/\s+/g, ' ')}`,
      ),
  ]);
  throw new Error(`accessibility violations on ${page.url()}:\n${lines.join('\n')}`);
}

/** Whether this run takes the screenshots (SLAPOS_PANEL_SCREENSHOTS=1): they are committed, not made by CI. */
export function screenshotsWanted(): boolean {
  return process.env.SLAPOS_PANEL_SCREENSHOTS === '1';
}

/** Saves the page as docs/panel/<name>.png (whole page) when screenshots are wanted; a no-op otherwise. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!screenshotsWanted()) return;
  if (!/^[a-z0-9-]+$/.test(name))
    throw new Error(`screenshot name ${JSON.stringify(name)}: a-z, 0-9 and - only`);
  const directory = join(packageRoot(), 'docs', 'panel');
  await mkdir(directory, { recursive: true });
  await page.screenshot({ path: join(directory, `${name}.png`), fullPage: true, animations: 'disabled' });
}

/** The value of a JavaScript expression in the page (the project has no DOM types to write functions with). */
export function pageValue<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate<T>(expression);
}

/**
 * What in the page shows that outside content escaped its text: a script not served by the panel,
 * an event handler attribute (`on…`), a `javascript:` URL in a link, a source or a form, an element
 * the panel never writes (img, iframe…), or the `window.__xss` flag the tests' payloads set. Empty
 * when the page is clean.
 */
export function injectedMarkup(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const problems = [];
    if (window.__xss !== undefined) problems.push('window.__xss = ' + String(window.__xss));
    for (const script of document.querySelectorAll('script')) {
      const src = script.getAttribute('src');
      if (src === null || !src.startsWith('/panel/static/')) problems.push('script: ' + script.outerHTML.slice(0, 120));
    }
    for (const element of document.querySelectorAll('*')) {
      for (const attribute of element.attributes) {
        const name = attribute.name.toLowerCase();
        if (name.startsWith('on')) problems.push('handler ' + name + ' on <' + element.localName + '>');
        const url = ['href', 'src', 'action', 'formaction', 'xlink:href', 'data'].includes(name);
        if (url && /^\\s*javascript:/i.test(attribute.value.replace(/[\\u0000-\\u0020]/g, '')))
          problems.push(name + '=' + attribute.value.slice(0, 80) + ' on <' + element.localName + '>');
      }
    }
    // The panel draws no image but its usage charts (an inline SVG in figure.usage-chart).
    for (const element of document.querySelectorAll('iframe, object, embed, img, svg, math')) {
      if (element.localName !== 'svg' || element.closest('figure.usage-chart') === null)
        problems.push('<' + element.localName + '> in the page');
    }
    return problems;
  })()`);
}

/**
 * How many CSS pixels the page is wider than its viewport (0 when nothing overflows sideways), and
 * the innermost elements whose content spills out sideways (tag, id, classes, start of their text).
 */
export function horizontalOverflow(page: Page): Promise<{ pixels: number; culprits: string[] }> {
  return page.evaluate<{ pixels: number; culprits: string[] }>(`(() => {
    const root = document.documentElement;
    const spilling = [...document.body.querySelectorAll('*')].filter(
      (element) => element.scrollWidth > element.clientWidth + 1 && getComputedStyle(element).overflowX === 'visible',
    );
    const innermost = spilling.filter((element) => !spilling.some((other) => other !== element && element.contains(other)));
    const culprits = innermost.slice(0, 5).map((element) =>
      element.localName + (element.id ? '#' + element.id : '') + [...element.classList].map((name) => '.' + name).join('') +
      ' "' + (element.textContent || '').trim().slice(0, 40) + '"');
    return { pixels: Math.max(0, root.scrollWidth - root.clientWidth), culprits };
  })()`);
}

/**
 * Waits until the page's live refresh listens to the master's change stream (panel.js marks the
 * body): a change made after this reaches the page. (A locator, not a polled expression: the
 * panel's content security policy forbids evaluating strings.)
 */
export async function waitForLiveStream(page: Page): Promise<void> {
  await page.locator('body[data-live="connected"]').waitFor({ state: 'attached' });
}
