/**
 * The panel's whole flow in a real browser on a standalone SlapOS (real master, node agent and
 * supervisor): examples/hello requested from the form its schema generates, watched until it is
 * started without reloading, its URL opened, its parameter changed, stopped and destroyed; the node
 * page. axe-core checks every page; screenshots of the main pages (SLAPOS_PANEL_SCREENSHOTS=1).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { readAccessTokenFile } from '../src/lib/access-token.ts';
import { helloSoftwareUrl } from '../src/standalone/demo.ts';
import {
  checkAccessibility,
  launchTestBrowser,
  PHONE,
  screenshot,
  signIn,
  type TestBrowser,
  waitForLiveStream,
} from '../src/testing/browser.ts';
import { startTestStandalone, type TestStandalone } from '../src/testing/standalone.ts';

const RELEASE = helloSoftwareUrl();
const TITLE = 'hello-panel';
/** Software built, instance deployed, service started: a standalone's first pass takes a while. */
const DEPLOY_MS = 180_000;

let browser: TestBrowser;
let standalone: TestStandalone;
before(async () => {
  browser = await launchTestBrowser();
  standalone = await startTestStandalone({ partitions: 3, prefix: 'sa-panel-' });
});
after(async () => {
  await browser?.close();
  await standalone?.close();
});

/** The page's main-frame navigations from now on (a live update must not navigate). */
function countNavigations(page: Page): { readonly count: number } {
  const counter = { count: 0 };
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) counter.count += 1;
  });
  return counter;
}

/** Reloads `page` until its text is `expected` (the service takes a moment after a change). */
async function waitForText(page: Page, url: string, expected: string): Promise<void> {
  const deadline = Date.now() + DEPLOY_MS;
  for (;;) {
    const text = await page
      .goto(url)
      .then(() => page.locator('body').innerText())
      .catch(() => '');
    if (text.trim() === expected) return;
    if (Date.now() > deadline) throw new Error(`${url} still answers ${JSON.stringify(text.slice(0, 100))}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('panel in a browser on a standalone: request hello, watch it start, open it, modify, stop, destroy', async () => {
  const supply = await standalone.slapos(['supply', RELEASE, 'local', '--cfg', standalone.layout.config]);
  assert.equal(supply.exitCode, 0, supply.stderr);
  const token = await readAccessTokenFile(standalone.layout.tokenFile);
  const base = standalone.masterUrl;
  const context = await browser.newContext();
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  try {
    await signIn(page, base, token);
    await checkAccessibility(page);

    // The request form, generated from hello's schema.
    await page.goto(`${base}/panel/request?software_release=${encodeURIComponent(RELEASE)}`);
    await page.getByLabel('Title').fill(TITLE);
    const name = page.getByLabel('Name');
    assert.equal(await name.inputValue(), 'World', "the schema's default");
    await checkAccessibility(page);
    await screenshot(page, 'request-form');
    await Promise.all([
      page.waitForURL(`${base}/panel/services/${TITLE}`),
      page.getByRole('button', { name: 'Request' }).click(),
    ]);

    // It becomes ready on the open page, without a reload: the badge, then the link to its URL.
    await waitForLiveStream(page);
    const navigations = countNavigations(page);
    const root = page.locator('#instance-0');
    await root.locator('.badge', { hasText: /^started$/ }).waitFor({ timeout: DEPLOY_MS });
    const link = root.locator('a[href^="http://"]').first();
    await link.waitFor({ timeout: DEPLOY_MS });
    assert.equal(navigations.count, 0, 'no reload while it deployed');
    const url = (await link.getAttribute('href')) ?? '';
    await checkAccessibility(page);
    await screenshot(page, 'instance-tree');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'instance-tree-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    const service = await context.newPage();
    await waitForText(service, url, 'Hello World!');

    // The node page while the instance runs on it.
    await page.goto(`${base}/panel/nodes`);
    await checkAccessibility(page);
    await page.locator('main a[href^="/panel/nodes/"]').first().click();
    await page.waitForURL((where) => where.pathname.startsWith('/panel/nodes/'));
    assert.match(await page.locator('main').innerText(), new RegExp(TITLE));
    await checkAccessibility(page);
    await screenshot(page, 'node');
    await page.goto(`${base}/panel/services`);
    await checkAccessibility(page);
    await screenshot(page, 'services');
    await page.setViewportSize(PHONE);
    await screenshot(page, 'services-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Modify its parameter: the service greets the new name.
    await page.goto(`${base}/panel/services/${TITLE}/parameters`);
    assert.equal(await page.getByLabel('Name').inputValue(), 'World');
    await checkAccessibility(page);
    await page.getByLabel('Name').fill('Browser');
    await Promise.all([
      page.waitForURL(`${base}/panel/services/${TITLE}`),
      page.getByRole('button', { name: 'Save the parameters' }).click(),
    ]);
    await waitForText(service, url, 'Hello Browser!');

    // Stop it (confirmed in a dialog): its badge says so, live.
    await waitForLiveStream(page);
    await Promise.all([
      page.waitForURL(`${base}/panel/services/${TITLE}`),
      page.getByRole('button', { name: 'Stop' }).click(),
    ]);
    assert.equal(dialogs.length, 1);
    assert.match(dialogs[0] ?? '', /^Stop hello-panel\?$/);
    await waitForLiveStream(page);
    await root.locator('.badge', { hasText: /^stopped$/ }).waitFor({ timeout: DEPLOY_MS });

    // Destroy it, through its confirmation page.
    await page.getByRole('link', { name: 'Destroy…' }).click();
    await page.waitForURL(`${base}/panel/services/${TITLE}/destroy`);
    await checkAccessibility(page);
    await screenshot(page, 'destroy');
    await Promise.all([
      page.waitForURL(`${base}/panel/services`),
      page.getByRole('button', { name: `Destroy ${TITLE}` }).click(),
    ]);
    await waitForLiveStream(page);
    await page
      .locator('#services')
      .getByRole('link', { name: TITLE, exact: true })
      .waitFor({ state: 'detached', timeout: DEPLOY_MS });
    assert.deepEqual(browser.blockedRequests(context), []);
  } finally {
    await context.close();
  }
});
