/**
 * The web panel in a real browser (Debian's chromium driven by playwright-core): signing in and out,
 * the services page updating by itself when an instance is requested through the API, forms posted
 * from another site refused, and axe-core's accessibility check on every page visited.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import {
  checkAccessibility,
  launchTestBrowser,
  pageValue,
  screenshot,
  signIn,
  type TestBrowser,
} from '../src/testing/browser.ts';
import { startHttpServer } from '../src/testing/http-server.ts';
import { callApi, formatTestNode, startTestMaster } from '../src/testing/master.ts';

const TOKEN = 'local-token-for-the-browser-0123456789abcdef';
const BEARER = { authorization: `Bearer ${TOKEN}` };
/** A software release URL nobody fetches (nothing listens on port 1). */
const RELEASE = 'http://127.0.0.1:1/software.cfg';

let browser: TestBrowser;
before(async () => {
  browser = await launchTestBrowser();
});
after(async () => {
  await browser?.close();
});

/** Counts the page's own navigations (a live refresh must not navigate). */
function countNavigations(page: Page): { readonly count: number } {
  const counter = { count: 0 };
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) counter.count += 1;
  });
  return counter;
}

async function requestThroughApi(url: string, title: string): Promise<void> {
  const answer = await callApi(
    url,
    '/slapos.post.v0.software_instance',
    { title, software_release_uri: RELEASE, software_type: 'default' },
    { headers: BEARER },
  );
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

test('panel in a browser: sign-in refused then accepted, live services page, sign-out', async () => {
  const master = await startTestMaster({ accessToken: TOKEN });
  await formatTestNode(master.url, { partitions: 4, headers: BEARER });
  const page = await browser.newPage();
  try {
    await page.goto(`${master.url}/panel/services`);
    assert.equal(new URL(page.url()).pathname, '/panel/sign-in', 'signed out: the sign-in form');
    await checkAccessibility(page);
    await screenshot(page, 'sign-in');

    await page.getByLabel('Access token').fill('not-the-token');
    const [refused] = await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    assert.equal(refused.status(), 401);
    await page.getByRole('alert').waitFor();
    assert.match((await page.getByRole('alert').textContent()) ?? '', /not valid/);
    assert.equal(await page.getByLabel('Access token').getAttribute('aria-invalid'), 'true');
    await checkAccessibility(page);

    await signIn(page, master.url, TOKEN);
    assert.equal(new URL(page.url()).pathname, '/panel/services');
    assert.match((await page.locator('header').textContent()) ?? '', /Signed in as\s+local/);
    await checkAccessibility(page);

    // An instance requested through the API shows up on the open page without a reload.
    await page.waitForFunction("document.body.dataset.live === 'connected'");
    const navigations = countNavigations(page);
    await page.evaluate('window.__samePage = true');
    await requestThroughApi(master.url, 'live-one');
    await page.locator('#services').getByRole('link', { name: 'live-one' }).waitFor();
    assert.equal(navigations.count, 0, 'no navigation');
    assert.equal(await pageValue(page, 'window.__samePage'), true, 'the same document');
    assert.ok(Number(await pageValue(page, 'document.body.dataset.refreshes')) >= 1, 'refreshed live');
    await requestThroughApi(master.url, 'live-two');
    await page.locator('#services').getByRole('link', { name: 'live-two' }).waitFor();
    assert.equal(navigations.count, 0, 'no navigation');
    await checkAccessibility(page);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/panel/sign-in');
    await page.goto(`${master.url}/panel/services`);
    assert.equal(new URL(page.url()).pathname, '/panel/sign-in', 'signed out for good');
    assert.deepEqual(browser.blockedRequests, []);
  } finally {
    await page.context().close();
    await master.close();
  }
});

test('panel in a browser: forms posted from another site are refused', async () => {
  const master = await startTestMaster({ accessToken: TOKEN });
  const panel = master.url;
  // Another site (another loopback address, so another origin and another site for the cookie).
  const evil = await startHttpServer(
    (request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><html lang="en"><title>elsewhere</title><body>
        <form method="post" action="${panel}/panel/sign-in">
          <input name="token" value="${TOKEN}"><input name="next" value="/panel/services">
          <button id="sign-in">sign in</button></form>
        <form method="post" action="${panel}/panel/sign-out"><button id="sign-out">sign out</button></form>
        </body></html>`);
    },
    { host: '127.0.0.2' },
  );
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const postFrom = async (button: string): Promise<number> => {
      await page.goto(evil.url);
      const [response] = await Promise.all([
        page.waitForResponse((answer) => answer.request().method() === 'POST'),
        page.locator(button).click(),
      ]);
      await page.waitForLoadState();
      return response.status();
    };

    // Signing in from another site with a good token (login CSRF): refused, no session.
    assert.equal(await postFrom('#sign-in'), 403);
    await page.goto(`${panel}/panel/services`);
    assert.equal(new URL(page.url()).pathname, '/panel/sign-in');

    // Signed in here, a sign-out posted from the other site neither carries the session nor works.
    await signIn(page, panel, TOKEN);
    assert.ok([401, 403].includes(await postFrom('#sign-out')), 'refused');
    await page.goto(`${panel}/panel/services`);
    assert.equal(new URL(page.url()).pathname, '/panel/services', 'still signed in');
    await checkAccessibility(page);
    assert.deepEqual(browser.blockedRequests, []);
  } finally {
    await context.close();
    await evil.close();
    await master.close();
  }
});

test('the accessibility check itself finds serious violations', async () => {
  const bad = await startHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><html><body><input type="text"><img src="data:,"></body></html>');
  });
  const page = await browser.newPage();
  try {
    await page.goto(bad.url);
    await assert.rejects(checkAccessibility(page), /critical: image-alt[\s\S]*label/);
  } finally {
    await page.context().close();
    await bad.close();
  }
});
