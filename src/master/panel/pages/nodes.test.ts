/**
 * The compute node pages over HTTP on real masters: proxy mode (partitions, the instance linking to
 * its tree, software installations with the tail of a hostile build log, last contact) and master
 * mode (a user's own node, another user's node answered as the denied 404 page, the scope form's
 * round trip through the same use case as the API).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { systemClock } from '../../../core/clock.ts';
import { createKeyAndCertificateRequest } from '../../../lib/certificate-request.ts';
import { LOCAL_CALLER } from '../../services/index.ts';
import { startTestMaster, formatTestNode } from '../../../testing/master.ts';
import { postTls, startTestMasterMode } from '../../../testing/master-mode.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { PanelClient, textOf } from '../../../testing/panel.ts';
import { LOG_TAIL_LINES, logTail, parseFriends } from './nodes.ts';

const HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>';
const SOFTWARE = 'https://example.invalid/software.cfg';

/** Markup without whitespace between tags (prettier lays templates out freely). */
function compact(markup: string): string {
  return markup.replace(/>\s+</g, '><').replace(/\s+>/g, '>').replace(/\s+/g, ' ');
}

test('nodes page (proxy): partitions, the instance linking to its tree, build log tail escaped, last contact', async () => {
  let offset = 0;
  const master = await startTestMaster({ clock: { now: () => systemClock.now() + offset } });
  const panel = new PanelClient(master.url);
  const services = master.master.services;
  try {
    await formatTestNode(master.url, { partitions: 3 });
    const title = `tree/${HOSTILE}?#`;
    await services.supplySoftware({
      caller: LOCAL_CALLER,
      computeNodeId: 'computer',
      url: SOFTWARE,
      state: 'available',
    });
    await services.requestInstance({
      caller: LOCAL_CALLER,
      title,
      softwareRelease: SOFTWARE,
      softwareType: 'default',
      parameters: {},
      shared: false,
      state: 'started',
      sla: {},
    });
    const log = Array.from({ length: 100 }, (_, line) => `line ${line} ${HOSTILE}`).join('\n');
    await services.reportSoftwareInstallationError({
      caller: LOCAL_CALLER,
      computeNodeId: 'computer',
      url: SOFTWARE,
      message: log,
    });

    // A usage interval is its partition holder's when it ends after the allocation (whole seconds).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const stop = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
    await services.reportComputeNodeUsage({
      caller: LOCAL_CALLER,
      computeNodeId: 'computer',
      usageXml:
        '<journal><transaction type="Sale Packing List"><title>Resource consumptions</title><start_date></start_date>' +
        `<stop_date>${stop.slice(0, 10)} at ${stop.slice(11, 19)}</stop_date><reference>computer</reference>` +
        '<movement><resource>service_module/cpu_time</resource><reference>slappart0</reference>' +
        '<quantity>12.5</quantity><price>0.0</price><VAT/></movement></transaction></journal>',
    });

    const list = await panel.get('/panel/nodes');
    assert.equal(list.status, 200);
    const listText = textOf(list.html);
    assert.match(listText, /computer/);
    assert.match(listText, /never silent/, 'a node that never called is flagged');
    assert.match(compact(list.html), /<td>1 \/ 3<\/td><td>1<\/td><\/tr>/);
    assert.doesNotMatch(list.html, /Scope/, 'no allocation scope in proxy mode');
    assert.doesNotMatch(list.html, /href="\/panel\/tokens"/, 'no tokens entry in proxy mode');

    const node = await panel.get('/panel/nodes/computer');
    assert.equal(node.status, 200);
    const markup = compact(node.html);
    assert.ok(!node.html.includes('<script>alert'), 'nothing hostile is markup');
    assert.ok(!node.html.includes('<img src=x'), 'nothing hostile is markup');
    assert.ok(
      markup.includes(
        `<a href="/panel/services/${encodeURIComponent(title)}">tree/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;?#</a>`,
      ),
      'the busy partition links to its tree, title escaped',
    );
    assert.equal((markup.match(/<td><code>slappart\d<\/code><\/td><td>free<\/td>/g) ?? []).length, 2);
    const tail = /<pre class="text-block" tabindex="0">([^<]*)<\/pre>/.exec(node.html)?.[1] ?? '';
    const lines = tail.split('\n');
    assert.equal(lines.length, LOG_TAIL_LINES);
    assert.equal(
      lines[0],
      `line 60 ${HOSTILE.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')}`,
    );
    assert.match(textOf(node.html), /Build failed \(last 40 lines of the log\)/);
    assert.match(markup, /<span class="badge badge-failed">failed<\/span>/);
    assert.match(markup, /<section id="usage"/, 'the usage graphs have their place');
    const usage = textOf(markup.slice(markup.indexOf('<section id="usage"')));
    assert.match(usage, /CPU time \(seconds per interval\)\. Last: 12\.5 s at /);
    assert.match(usage, /Memory used \(MB\) No usage reported yet\./);

    // The instance that held the partition has the same graph on its tree's page.
    const tree = compact((await panel.get(`/panel/services/${encodeURIComponent(title)}`)).html);
    assert.match(tree, /<section id="instance-0-usage" aria-labelledby="instance-0-usage-heading">/);
    const treeUsage = textOf(tree.slice(tree.indexOf('<section id="instance-0-usage"')));
    assert.match(treeUsage, /^Usage over the last day CPU time \(seconds per interval\)\. Last: 12\.5 s at /);

    // The node calls for its pass: no longer silent; its last contact is ISO UTC text.
    await services.readNodeSnapshot({ caller: LOCAL_CALLER, computeNodeId: 'computer' });
    const contacted = compact((await panel.get('/panel/nodes/computer')).html);
    assert.match(
      contacted,
      /<dt>Last contact<\/dt><dd><time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)">\1<\/time><\/dd>/,
    );
    assert.doesNotMatch(contacted, /badge-silent/);
    assert.match(textOf((await panel.get('/panel/nodes')).html), /not called the master for 180 seconds/);
    offset = 179;
    assert.doesNotMatch((await panel.get('/panel/nodes/computer')).html, /badge-silent/);
    offset = 181;
    assert.match((await panel.get('/panel/nodes/computer')).html, /badge-silent/, 'silent after 3 × 60 s');
    offset = 0;

    const missing = await panel.get('/panel/nodes/nowhere');
    assert.equal(missing.status, 404);
    assert.equal((await panel.get('/panel/tokens')).status, 404, 'no tokens page in proxy mode');
  } finally {
    await panel.close();
    await master.close();
  }
});

test("nodes page (master mode): own node, another user's node is the denied 404 page, scope form round trip", async () => {
  const master = await startTestMasterMode();
  const alice = new PanelClient(master.url, { ca: master.caPem });
  const bob = new PanelClient(master.url, { ca: master.caPem });
  try {
    const aliceUser = await master.admin.addUser({ name: 'alice', admin: false });
    const bobUser = await master.admin.addUser({ name: 'bob', admin: false });
    await alice.signIn(aliceUser.token);
    await bob.signIn(bobUser.token);

    assert.equal((await alice.get('/panel/tokens')).status, 200);
    const created = await alice.post('/panel/tokens', { expires_in_s: '3600' });
    assert.equal(created.status, 200);
    const token = /<pre class="text-block" id="new-token" tabindex="0">([A-Za-z0-9_-]{43})<\/pre>/.exec(
      created.html,
    )?.[1];
    assert.ok(token, 'the new token is shown once');
    const nodeTitle = `node ${HOSTILE}`;
    const { csrPem } = await createKeyAndCertificateRequest(nodeTitle);
    const registered = await postTls(
      master.url,
      '/slapos.post.ext.compute_node_registration',
      { title: nodeTitle, certificate_request: csrPem },
      { ca: master.caPem, token },
    );
    assert.equal(registered.status, 200, registered.text);
    const reference = (registered.body as { computer_guid: string }).computer_guid;

    const list = await alice.get('/panel/nodes');
    assert.equal(list.status, 200);
    assert.ok(list.html.includes(`href="/panel/nodes/${reference}"`));
    assert.ok(!list.html.includes('<img src=x') && !list.html.includes('<script>alert'));
    assert.ok(textOf(list.html).includes(nodeTitle), 'the title is shown as text');
    assert.match(compact(list.html), /<td>0 \/ 0<\/td><td>0<\/td><td>personal<\/td>/);

    const page = await alice.get(`/panel/nodes/${reference}`);
    assert.equal(page.status, 200);
    assert.match(
      compact(page.html),
      /<dt>Owner<\/dt><dd>alice<\/dd><dt>Allocation scope<\/dt><dd>personal<\/dd>/,
    );

    // Bob sees neither the node nor its page (the same 404 page as a node that does not exist).
    assert.ok(!(await bob.get('/panel/nodes')).html.includes(reference));
    const denied = await bob.get(`/panel/nodes/${reference}`);
    const missing = await bob.get('/panel/nodes/COMP-999');
    assert.equal(denied.status, 404);
    assert.equal(missing.status, 404);
    assert.ok(!denied.html.includes(nodeTitle) && !textOf(denied.html).includes(nodeTitle));
    assert.equal(
      (await bob.post(`/panel/nodes/${reference}/access`, { allocation_scope: 'open', friends: '' })).status,
      404,
    );

    // The scope form: the same use case as the API; the answer is read back from the directory.
    const saved = await alice.post(`/panel/nodes/${reference}/access`, {
      allocation_scope: 'friend',
      friends: 'bob\r\n\r\n',
    });
    assert.equal(saved.status, 303);
    assert.equal(saved.location, `/panel/nodes/${reference}`);
    const stored = (await master.admin.listComputeNodes()).find((node) => node.reference === reference);
    assert.equal(stored?.allocationScope, 'friend');
    assert.deepEqual(stored?.friends, ['bob']);
    assert.match(
      compact((await alice.get(`/panel/nodes/${reference}`)).html),
      /<dt>Friends<\/dt><dd>\s*bob\s*<\/dd>/,
    );

    const unknownFriend = await alice.post(`/panel/nodes/${reference}/access`, {
      allocation_scope: 'friend',
      friends: `bob\n${HOSTILE}`,
    });
    assert.equal(unknownFriend.status, 400);
    assert.match(textOf(unknownFriend.html), /is not a user/);
    assert.ok(!unknownFriend.html.includes('<img src=x'));
    const badScope = await alice.post(`/panel/nodes/${reference}/access`, {
      allocation_scope: 'everyone',
      friends: '',
    });
    assert.equal(badScope.status, 400);
    assert.deepEqual(
      (await master.admin.listComputeNodes()).find((node) => node.reference === reference)?.friends,
      ['bob'],
      'a refused form changes nothing',
    );
  } finally {
    await alice.close();
    await bob.close();
    await master.close();
  }
});

test('parseFriends: one name a line (any line break), every other character kept as it is', () => {
  const random = seededRandom(6);
  for (let round = 0; round < 500; round++) {
    const names = Array.from({ length: Math.floor(random() * 6) }, () => hostileString(random)).map(
      (name) => `${name.replace(/[\r\n]/g, '')}x`,
    );
    const separator = ['\n', '\r\n', '\r'][Math.floor(random() * 3)] ?? '\n';
    assert.deepEqual(parseFriends(`${names.join(separator)}${separator}${separator}`), names);
  }
});

test('logTail: the last lines, exactly', () => {
  const random = seededRandom(40);
  for (let round = 0; round < 300; round++) {
    const message = Array.from({ length: Math.floor(random() * 90) }, () => hostileString(random)).join('\n');
    const tail = logTail(message);
    const lines = message.split('\n');
    assert.equal(tail.text, lines.slice(-LOG_TAIL_LINES).join('\n'));
    assert.equal(tail.omittedLines, Math.max(0, lines.length - LOG_TAIL_LINES));
    assert.ok(message.endsWith(tail.text));
  }
});
