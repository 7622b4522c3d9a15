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
  horizontalOverflow,
  injectedMarkup,
  isLoopbackUrl,
  launchTestBrowser,
  PHONE,
  pageValue,
  screenshot,
  signIn,
  type TestBrowser,
  waitForLiveStream,
} from '../src/testing/browser.ts';
import type { InvoiceDocument } from '../src/core/invoice-types.ts';
import { renderInvoiceHtml } from '../src/master/invoices/render-html.ts';
import { startHttpServer } from '../src/testing/http-server.ts';
import { invoiceRecord, seedInvoices } from '../src/testing/invoices.ts';
import { callApi, formatTestNode, startTestMaster } from '../src/testing/master.ts';
import { startTestMasterMode } from '../src/testing/master-mode.ts';

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
    await waitForLiveStream(page);
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
    assert.deepEqual(browser.blockedRequests(page.context()), []);
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
    assert.deepEqual(browser.blockedRequests(context), []);
  } finally {
    await context.close();
    await evil.close();
    await master.close();
  }
});

/** Payloads: each one, were it markup, would set window.__xss or open a dialog. */
const SCRIPT = '<script>window.__xss = "script"; alert(1)</script>';
const IMG = '"><img src=x onerror="window.__xss = \'img\'; alert(2)">';
const SVG = "'><svg onload=window.__xss='svg'>";
const JS_URL = 'javascript:window.__xss="link";alert(3)';
const LONG = 'W'.repeat(100_000);
const LONG_URL = `http://127.0.0.1:1/${'u'.repeat(100_000)}`;
const HOSTILE_TITLES = [SCRIPT, IMG, SVG, JS_URL, 'T'.repeat(200), ` ${JS_URL}`];

/**
 * Instance trees whose titles, parameters, connection parameters, error messages and promise
 * results hold markup, `javascript:` URLs and 100 kB strings, written through the API as a user
 * and as the node would.
 */
async function requestHostileTrees(url: string): Promise<void> {
  const api = async (path: string, body: unknown): Promise<unknown> => {
    const answer = await callApi(url, path, body, { headers: BEARER });
    assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.body).slice(0, 300)}`);
    return answer.body;
  };
  for (const title of HOSTILE_TITLES) {
    const instance = (await api('/slapos.post.v0.software_instance', {
      title,
      software_release_uri: RELEASE,
      software_type: 'default',
      parameters: { [SCRIPT]: IMG, url: JS_URL, [SVG]: SCRIPT, long: LONG },
    })) as { instance_guid: string };
    const instanceGuid = instance.instance_guid;
    await api('/slapos.put.v0.software_instance_connection_parameter', {
      instance_guid: instanceGuid,
      connection_parameter_dict: {
        url: JS_URL,
        'backend-url': ` ${JS_URL}`,
        'long-url': LONG_URL,
        password: SCRIPT,
        [IMG]: SVG,
        long: LONG,
      },
    });
    await api('/slapos.put.v0.software_instance_error', {
      instance_guid: instanceGuid,
      message: `${SCRIPT}\n${IMG}\r\n${SVG}\u2028${JS_URL}\n${LONG}`,
    });
    await api('/slapos.put.ext.software_instance_promise_result', {
      instance_guid: instanceGuid,
      result_list: [
        {
          name: SCRIPT,
          status: 'fail',
          message: `${IMG} ${JS_URL} ${'P'.repeat(4000)}`,
          date: '2026-01-02T03:04:05Z',
        },
        { name: IMG, status: 'pass', message: SVG, date: '2026-01-02T03:04:05Z' },
      ],
    });
    await api('/slapos.put.v0.software_instance_bang', {
      instance_guid: instanceGuid,
      message: `${SCRIPT}${IMG}`,
    });
  }
}

test('panel in a browser: hostile content is shown as text, runs nothing, and the layout holds on a phone', async () => {
  const master = await startTestMaster({ accessToken: TOKEN });
  await formatTestNode(master.url, { partitions: HOSTILE_TITLES.length + 1, headers: BEARER });
  await requestHostileTrees(master.url);
  // The CSP is bypassed: the escaping itself is under test, not the policy that backs it up.
  const context = await browser.newContext({ bypassCSP: true, viewport: PHONE });
  const dialogs: string[] = [];
  context.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  try {
    const page = await context.newPage();
    await signIn(page, master.url, TOKEN);
    const treePaths = await page.evaluate<string[]>(
      `[...document.querySelectorAll('#services a[href^="/panel/services/"]')].map((link) => link.getAttribute('href'))`,
    );
    assert.equal(new Set(treePaths).size, HOSTILE_TITLES.length, 'a link to each tree');
    const paths = [
      '/panel/services',
      '/panel/nodes',
      '/panel/nodes/computer',
      ...treePaths.flatMap((path) => [path, `${path}/parameters`, `${path}/destroy`]),
    ];
    const inspect = async (path: string): Promise<void> => {
      assert.deepEqual(await injectedMarkup(page), [], path);
      const overflow = await horizontalOverflow(page);
      assert.ok(
        overflow.pixels <= 2,
        `${path}: ${overflow.pixels} px wider than a phone: ${overflow.culprits.join('; ')}`,
      );
      assert.deepEqual(dialogs, [], path);
      await checkAccessibility(page);
    };
    for (const path of paths) {
      const response = await page.goto(`${master.url}${path}`, { waitUntil: 'load' });
      assert.equal(response?.status(), 200, path);
      await inspect(path);
    }
    // The titles are there, as text.
    await page.goto(`${master.url}/panel/services`);
    const text = await pageValue<string>(page, 'document.body.innerText');
    for (const title of HOSTILE_TITLES)
      assert.ok(text.includes(title.trim()), `shown: ${title.slice(0, 40)}`);
    // A live refresh brings the same content in through the DOM: still inert.
    await waitForLiveStream(page);
    await requestThroughApi(master.url, IMG.replace('img', 'IMG'));
    await page.locator('body[data-refreshes]').waitFor({ state: 'attached' });
    await page.locator('#services').getByText(IMG.replace('img', 'IMG'), { exact: true }).waitFor();
    await inspect('/panel/services after a live refresh');
    assert.deepEqual(browser.blockedRequests(context), []);
  } finally {
    await context.close();
    await master.close();
  }
});

test('invoices in a browser: hostile tree titles are inert text, on a phone, accessible; the standalone document too', async () => {
  const master = await startTestMaster({ accessToken: TOKEN });
  await seedInvoices(master.database, [
    invoiceRecord({
      lines: HOSTILE_TITLES.map((title) => ({
        instance_tree: title,
        resource: `service_module/${SVG}`,
        quantity: '1234567.123456',
        unit_price: '0.000123',
        amount: '151.851755',
      })),
      user: SCRIPT,
      total: '911.11',
    }),
  ]);
  const context = await browser.newContext({ bypassCSP: true, viewport: PHONE });
  const dialogs: string[] = [];
  context.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  try {
    const page = await context.newPage();
    await signIn(page, master.url, TOKEN, '/panel/invoices');
    const inspect = async (what: string): Promise<void> => {
      assert.deepEqual(await injectedMarkup(page), [], what);
      const overflow = await horizontalOverflow(page);
      assert.ok(
        overflow.pixels <= 2,
        `${what}: ${overflow.pixels} px wider than a phone: ${overflow.culprits.join('; ')}`,
      );
      assert.deepEqual(dialogs, [], what);
      await checkAccessibility(page);
    };
    for (const path of ['/panel/invoices', '/panel/invoices/INV-202601-000001']) {
      const response = await page.goto(`${master.url}${path}`, { waitUntil: 'load' });
      assert.equal(response?.status(), 200, path);
      await inspect(path);
    }
    const text = await pageValue<string>(page, 'document.body.innerText');
    for (const title of HOSTILE_TITLES)
      assert.ok(text.includes(title.trim()), `shown: ${title.slice(0, 40)}`);
    const invoice = (
      await callApi(
        master.url,
        '/slapos.get.ext.invoice',
        { invoice_id: 'INV-202601-000001' },
        { headers: BEARER },
      )
    ).body as InvoiceDocument;
    await page.setContent(renderInvoiceHtml(invoice), { waitUntil: 'load' });
    await inspect('the standalone invoice document');
    assert.deepEqual(browser.blockedRequests(context), []);
  } finally {
    await context.close();
    await master.close();
  }
});

test("panel in a browser (master mode): another user's tree is a not-found page", async () => {
  const master = await startTestMasterMode();
  // The master's own CA signs its certificate: this browser has never heard of it.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const { token } = await master.admin.addUser({ name: 'alice', admin: false });
    await master.admin.addUser({ name: 'bob', admin: false });
    for (const userId of ['alice', 'bob'])
      await master.master.services.requestInstance({
        caller: { kind: 'user', userId, admin: false },
        title: `${userId}s-tree`,
        softwareRelease: RELEASE,
        softwareType: 'default',
        parameters: {},
        shared: false,
        state: 'started',
        sla: {},
      });
    const page = await context.newPage();
    await signIn(page, master.url, token);
    await page.locator('#services').getByRole('link', { name: 'alices-tree' }).waitFor();
    assert.equal(await page.locator('#services').getByRole('link', { name: 'bobs-tree' }).count(), 0);
    const denied = await page.goto(`${master.url}/panel/services/bobs-tree`);
    assert.equal(denied?.status(), 404);
    const deniedText = await page.locator('main').innerText();
    // Exactly what a tree that does not exist gets: nothing tells it exists.
    assert.equal((await page.goto(`${master.url}/panel/services/carols-tree`))?.status(), 404);
    assert.equal((await page.locator('main').innerText()).replace('carols-tree', 'bobs-tree'), deniedText);
    await page.goto(`${master.url}/panel/services/bobs-tree`);
    assert.equal(await page.locator('main form').count(), 0, 'no action on it');
    await checkAccessibility(page);
    await screenshot(page, 'not-found');
    const own = await page.goto(`${master.url}/panel/services/alices-tree`);
    assert.equal(own?.status(), 200);
    await checkAccessibility(page);
    assert.deepEqual(browser.blockedRequests(context), []);
  } finally {
    await context.close();
    await master.close();
  }
});

test('the browser reaches loopback only: a request to another host is aborted', async () => {
  // A name that never resolves (.invalid), should the route fail: nothing leaves this machine.
  const page = await browser.newPage();
  const site = await startHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      '<!doctype html><html lang="en"><title>t</title><img alt="" src="http://panel-test.invalid/x.png"></html>',
    );
  });
  try {
    await page.goto(site.url, { waitUntil: 'load' });
    assert.deepEqual(browser.blockedRequests(page.context()), ['http://panel-test.invalid/x.png']);
    assert.equal(isLoopbackUrl('http://127.0.0.2:8080/'), true);
    assert.equal(isLoopbackUrl('http://[::1]/'), true);
    for (const url of [
      'http://10.0.0.1/',
      'https://example.com/',
      'http://127.0.0.1.example.com/',
      'ftp://127.0.0.1/',
    ])
      assert.equal(isLoopbackUrl(url), false, url);
  } finally {
    await page.context().close();
    await site.close();
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
