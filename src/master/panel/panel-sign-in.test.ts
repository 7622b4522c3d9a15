/**
 * The panel's sign-in, sessions and form protections, on real masters over HTTP (proxy mode, with
 * and without a local token) and HTTPS (master mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startTestMaster } from '../../testing/master.ts';
import { startTestMasterMode } from '../../testing/master-mode.ts';
import { PanelClient } from '../../testing/panel.ts';

const TOKEN = 'local-token-for-the-panel-0123456789abcdef';

test('panel (proxy with a local token): sign-in, session cookie, CSRF and origin checks, sign-out', async () => {
  const master = await startTestMaster({ accessToken: TOKEN });
  const panel = new PanelClient(master.url);
  try {
    const anonymous = await panel.get('/panel/services');
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.location, '/panel/sign-in?next=%2Fpanel%2Fservices');
    const form = await panel.get('/panel/sign-in');
    assert.equal(form.status, 200);
    assert.match(form.html, /<label for="token">/);

    for (const token of ['wrong', '', 'has space', TOKEN.slice(0, -1)]) {
      const refused = await panel.post('/panel/sign-in', { token }, { csrf: false });
      assert.equal(refused.status, 401, token);
      assert.equal(panel.sessionCookie, undefined);
      assert.ok(!refused.html.includes(token) || token === '', 'a refused token is not shown back');
    }
    const signedIn = await panel.post(
      '/panel/sign-in',
      { token: TOKEN, next: '/panel/services?state=failed' },
      { csrf: false },
    );
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.location, '/panel/services?state=failed');
    const setCookie = String(signedIn.headers['set-cookie']);
    assert.match(
      setCookie,
      /^slapos_session=[A-Za-z0-9_-]{43}; Path=\/panel; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );

    const services = await panel.get('/panel/services');
    assert.equal(services.status, 200);
    assert.match(String(services.headers['content-security-policy']), /script-src 'self'/);
    assert.match(services.html, /Signed in as <strong>local<\/strong>/);

    // The sign-out form needs this page's CSRF token, from this origin.
    assert.equal((await panel.post('/panel/sign-out', {}, { csrf: false })).status, 403);
    assert.equal((await panel.post('/panel/sign-out', {}, { csrf: 'x'.repeat(43) })).status, 403);
    assert.equal((await panel.post('/panel/sign-out', {}, { origin: 'http://evil.example' })).status, 403);
    assert.equal(
      (await panel.post('/panel/sign-out', {}, { headers: { 'sec-fetch-site': 'cross-site' } })).status,
      403,
    );
    assert.equal((await panel.get('/panel/services')).status, 200, 'still signed in');
    const cookie = panel.sessionCookie;
    const signedOut = await panel.post('/panel/sign-out', {});
    assert.equal(signedOut.status, 303);
    assert.equal(panel.sessionCookie, undefined);
    panel.sessionCookie = cookie;
    assert.equal((await panel.get('/panel/services')).status, 303, 'the session is closed on the master');

    // The API is not opened by the panel's exemption.
    const api = await request(`${master.url}/slapos.get.v0.instance_tree_list`, { method: 'POST' });
    await api.body.dump();
    assert.equal(api.statusCode, 401);
  } finally {
    await panel.close();
    await master.close();
  }
});

test('panel: only panel paths are accepted after sign-in', async () => {
  const master = await startTestMaster({ accessToken: TOKEN });
  const panel = new PanelClient(master.url);
  try {
    for (const next of [
      '//evil.example/x',
      'https://evil.example/',
      '/panel//evil',
      '/other',
      '/panel/\\evil',
      'javascript:alert(1)',
    ]) {
      const answer = await panel.post('/panel/sign-in', { token: TOKEN, next }, { csrf: false });
      assert.equal(answer.location, '/panel/services', next);
    }
  } finally {
    await panel.close();
    await master.close();
  }
});

test('panel (open proxy): no sign-in, forms still need the CSRF token and this origin', async () => {
  const master = await startTestMaster();
  const panel = new PanelClient(master.url);
  try {
    const services = await panel.get('/panel/services');
    assert.equal(services.status, 200);
    assert.doesNotMatch(services.html, /Sign out/);
    assert.equal((await panel.get('/panel/sign-in')).status, 303);
    assert.equal((await panel.post('/panel/sign-out', {}, { csrf: false })).status, 403);
    assert.equal((await panel.post('/panel/sign-out', {}, { origin: 'http://127.0.0.1:1' })).status, 403);
  } finally {
    await panel.close();
    await master.close();
  }
});

test('panel (master mode): a user signs in with an API token; a disabled user loses the session', async () => {
  const master = await startTestMasterMode();
  const panel = new PanelClient(master.url, { ca: master.caPem });
  try {
    const { token } = await master.admin.addUser({ name: 'alice', admin: false });
    const anonymous = await panel.get('/panel/services');
    assert.equal(anonymous.status, 303);
    await panel.signIn(token);
    assert.match(
      String((await panel.post('/panel/sign-in', { token }, { csrf: false })).headers['set-cookie']),
      /; Secure$/,
    );
    const services = await panel.get('/panel/services');
    assert.equal(services.status, 200);
    assert.match(services.html, /Signed in as <strong>alice<\/strong>/);
    assert.match(services.html, /href="\/panel\/tokens"/);
    await master.admin.disableUser('alice');
    assert.equal((await panel.get('/panel/services')).status, 303);
    // Another process's change reaches the master's memoized token records within 100 ms.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 401; attempt++) {
      status = (await panel.post('/panel/sign-in', { token }, { csrf: false })).status;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 401);
  } finally {
    await panel.close();
    await master.close();
  }
});

test('panel: /panel/events streams a change event after a committed write', async () => {
  const master = await startTestMaster({ accessToken: TOKEN });
  const panel = new PanelClient(master.url);
  try {
    await panel.signIn(TOKEN);
    const controller = new AbortController();
    const stream = await request(`${master.url}/panel/events`, {
      headers: { cookie: panel.sessionCookie ?? '' },
      signal: controller.signal,
    });
    assert.equal(stream.statusCode, 200);
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
    let text = '';
    const heard = (async () => {
      for await (const chunk of stream.body) {
        text += String(chunk);
        if (text.includes('event: change')) return;
      }
    })();
    await master.master.services.openPanelSession({ caller: { kind: 'local' } });
    await heard;
    assert.match(text, /event: change\ndata: \{\}\n\n/);
    controller.abort();
    const refused = await request(`${master.url}/panel/events`);
    await refused.body.dump();
    assert.equal(refused.statusCode, 401);
  } finally {
    await panel.close();
    await master.close();
  }
});

test('panel: a closing master ends the open pages’ event streams cleanly instead of cutting them', async () => {
  const master = await startTestMaster();
  const stream = await request(`${master.url}/panel/events`);
  assert.equal(stream.statusCode, 200);
  const ended = new Promise<string>((resolve) => {
    stream.body.on('data', () => undefined);
    stream.body.once('end', () => resolve('ended'));
    stream.body.once('error', (error) => resolve(`cut: ${error.message}`));
  });
  await master.close();
  assert.equal(await ended, 'ended');
});
