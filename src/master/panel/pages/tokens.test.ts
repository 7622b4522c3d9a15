/**
 * The registration tokens page over HTTPS on a real master in master mode: a token shown once,
 * listed without its value, revoked from the page (then refused by the API's registration), and the
 * user's nodes; proxy mode has no such page.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyAndCertificateRequest } from '../../../lib/certificate-request.ts';
import { startTestMaster } from '../../../testing/master.ts';
import { postTls, startTestMasterMode, type TestMasterMode } from '../../../testing/master-mode.ts';
import { PanelClient, textOf } from '../../../testing/panel.ts';

const TOKEN_SHOWN = /<pre class="text-block" id="new-token" tabindex="0">([A-Za-z0-9_-]{43})<\/pre>/;

async function register(master: TestMasterMode, token: string, title: string) {
  const { csrPem } = await createKeyAndCertificateRequest(title);
  return postTls(
    master.url,
    '/slapos.post.ext.compute_node_registration',
    { title, certificate_request: csrPem },
    { ca: master.caPem, token },
  );
}

function revokeIds(markup: string): string[] {
  return [...markup.matchAll(/<input type="hidden" name="id" value="([0-9a-f]+)"/g)].map(
    (match) => match[1] ?? '',
  );
}

test("tokens page (master mode): create shows the token once, revoke makes the API refuse it, the user's nodes", async () => {
  const master = await startTestMasterMode();
  const alice = new PanelClient(master.url, { ca: master.caPem });
  const bob = new PanelClient(master.url, { ca: master.caPem });
  try {
    const aliceUser = await master.admin.addUser({ name: 'alice', admin: false });
    const bobUser = await master.admin.addUser({ name: 'bob', admin: false });
    await alice.signIn(aliceUser.token);
    await bob.signIn(bobUser.token);

    const empty = await alice.get('/panel/tokens');
    assert.equal(empty.status, 200);
    assert.match(textOf(empty.html), /No registration tokens/);
    assert.match(empty.html, /<label for="expires-in">/);

    const first = await alice.post('/panel/tokens', { expires_in_s: '86400' });
    assert.equal(first.status, 200);
    const used = TOKEN_SHOWN.exec(first.html)?.[1] ?? '';
    assert.ok(used, 'shown on the page creating it');
    const second = await alice.post('/panel/tokens', { expires_in_s: '3600' });
    const revoked = TOKEN_SHOWN.exec(second.html)?.[1] ?? '';
    assert.ok(revoked && revoked !== used);

    const listed = await alice.get('/panel/tokens');
    assert.ok(!listed.html.includes(used) && !listed.html.includes(revoked), 'never shown again');
    assert.equal(revokeIds(listed.html).length, 2);
    assert.equal(
      revokeIds((await bob.get('/panel/tokens')).html).length,
      0,
      "another user's tokens are not listed",
    );

    const registered = await register(master, used, 'first node');
    assert.equal(registered.status, 200, registered.text);
    const reference = (registered.body as { computer_guid: string }).computer_guid;
    const afterUse = await alice.get('/panel/tokens');
    assert.match(textOf(afterUse.html), /used at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    assert.ok(
      afterUse.html.includes(`<a href="/panel/nodes/${reference}">${reference}</a>`),
      "the user's node links to its page",
    );
    assert.ok(!(await bob.get('/panel/tokens')).html.includes(reference));

    const [id] = revokeIds(afterUse.html);
    assert.ok(id);
    // Bob cannot revoke Alice's token: it is not found for him, and stays.
    assert.equal((await bob.post('/panel/tokens/revoke', { id })).status, 404);
    assert.equal((await alice.post('/panel/tokens/revoke', { id: 'f'.repeat(64) })).status, 404);
    const revokedAnswer = await alice.post('/panel/tokens/revoke', { id });
    assert.equal(revokedAnswer.status, 303);
    assert.equal(revokedAnswer.location, '/panel/tokens');
    assert.equal(revokeIds((await alice.get('/panel/tokens')).html).length, 0);

    const refused = await register(master, revoked, 'second node');
    assert.equal(refused.status, 401, refused.text);
    assert.equal((await master.admin.listComputeNodes()).length, 1, 'the revoked token registered nothing');

    for (const expires of ['', '59', '2592001', '1e3', '-1', '3600 ']) {
      const bad = await alice.post('/panel/tokens', { expires_in_s: expires });
      assert.equal(bad.status, 400, expires);
      assert.doesNotMatch(bad.html, TOKEN_SHOWN);
    }
  } finally {
    await alice.close();
    await bob.close();
    await master.close();
  }
});

test('tokens page (proxy): not in the navigation, 404', async () => {
  const master = await startTestMaster();
  const panel = new PanelClient(master.url);
  try {
    const services = await panel.get('/panel/services');
    assert.doesNotMatch(services.html, /href="\/panel\/tokens"/);
    assert.equal((await panel.get('/panel/tokens')).status, 404);
  } finally {
    await panel.close();
    await master.close();
  }
});
