/**
 * The services page and the instance tree page over HTTP, on real masters (an open proxy: the
 * sign-in is panel-sign-in.test.ts's): the list with its
 * filters and pages, a tree's content with hostile values, stop/start/destroy read back through the
 * API, CSRF, and another user's tree (master mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml } from '../html.ts';
import { LOCAL_CALLER, type Caller, type MasterServices } from '../../services/index.ts';
import { formatTestNode, postJson, startTestMaster } from '../../../testing/master.ts';
import { startTestMasterMode } from '../../../testing/master-mode.ts';
import { PanelClient, textOf } from '../../../testing/panel.ts';

const RELEASE_A = 'https://example.com/a/software.cfg';
const RELEASE_B = 'https://example.com/b/software.cfg';
/** Every Unicode line terminator, and those parameter XML can carry (XML 1.0 has no \v \f \x1c-\x1e). */
const TERMINATORS = '\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029';
const XML_TERMINATORS = '\r\n\x85\u2028\u2029';
const XML_ILLEGAL = /[\0-\x08\v\f\x0e-\x1f\ufffe\uffff]/g;

async function request(
  services: MasterServices,
  title: string,
  options: {
    release?: string;
    node?: string;
    parameters?: Record<string, unknown>;
    caller?: Caller;
    requester?: { computeNodeId: string; partitionId: string };
  } = {},
) {
  return services.requestInstance({
    caller: options.caller ?? LOCAL_CALLER,
    title,
    softwareRelease: options.release ?? RELEASE_A,
    softwareType: 'default',
    parameters: options.parameters ?? {},
    shared: false,
    state: 'started',
    sla: options.node === undefined ? {} : { computer_guid: options.node },
    ...(options.requester === undefined ? {} : { requester: options.requester }),
  });
}

/** The rows of the services table shown. */
function rowTitles(html: string): string[] {
  return [...html.matchAll(/<th scope="row">\s*<a href="[^"]*">([^<]*)<\/a>/g)].map((match) =>
    textOf(match[1] ?? ''),
  );
}

async function apiTree(url: string, title: string): Promise<Record<string, unknown>> {
  const answer = await postJson(url, '/slapos.get.v0.instance_tree', { title });
  assert.equal(answer.status, 200, answer.text);
  return answer.body as Record<string, unknown>;
}

test('services page: every tree with its status, searched and filtered by status, node and release, 50 a page', async () => {
  const master = await startTestMaster();
  const panel = new PanelClient(master.url);
  const services = master.master.services;
  try {
    await formatTestNode(master.url, { partitions: 60 });
    await formatTestNode(master.url, { computerGuid: 'COMP-2', partitions: 2 });
    const titles = Array.from({ length: 55 }, (_, index) => `tree-${String(index).padStart(2, '0')}`);
    for (const title of titles) await request(services, title);
    for (const title of ['other-0', 'other-1'])
      await request(services, title, { release: RELEASE_B, node: 'COMP-2' });
    await services.supplySoftware({
      caller: LOCAL_CALLER,
      computeNodeId: 'computer',
      url: RELEASE_A,
      state: 'available',
    });
    await services.reportSoftwareInstallationState({
      caller: LOCAL_CALLER,
      computeNodeId: 'computer',
      url: RELEASE_A,
      reportedState: 'available',
    });
    const guid = async (title: string) =>
      (await services.getInstanceTree({ caller: LOCAL_CALLER, title })).instanceGuid;
    for (const title of ['tree-01', 'tree-02', 'tree-03'])
      await services.reportInstanceState({
        caller: LOCAL_CALLER,
        instanceGuid: await guid(title),
        reportedState: 'started',
      });
    const date = '2026-12-07T00:00:00Z';
    await services.reportPromiseResults({
      caller: LOCAL_CALLER,
      instanceGuid: await guid('tree-02'),
      results: [{ name: 'check', status: 'fail', message: 'down', date }],
    });
    // A passing promise whose message reads like a failure is no failure.
    await services.reportPromiseResults({
      caller: LOCAL_CALLER,
      instanceGuid: await guid('tree-03'),
      results: [{ name: 'check', status: 'pass', message: '{"name":"x","status":"fail"}', date }],
    });

    const first = await panel.get('/panel/services');
    assert.equal(first.status, 200);
    assert.deepEqual(rowTitles(first.html), [...['other-0', 'other-1'], ...titles].slice(0, 50));
    assert.match(first.html, /<section id="services" data-live/);
    assert.match(first.html, /57 instance trees/);
    assert.match(
      first.html,
      /tree-02<\/a>\s*<\/th>\s*<td><span class="badge badge-promise-failing">promise failing<\/span>/,
    );
    assert.match(first.html, /<a href="\/panel\/services\?page=2" rel="next">Next<\/a>/);
    assert.doesNotMatch(first.html, /rel="prev"/);
    const second = await panel.get('/panel/services?page=2');
    assert.deepEqual(rowTitles(second.html), titles.slice(48));
    assert.match(second.html, /<a href="\/panel\/services" rel="prev">Previous<\/a>/);
    assert.doesNotMatch(second.html, /rel="next"/);
    assert.deepEqual(
      rowTitles((await panel.get('/panel/services?page=9')).html),
      titles.slice(48),
      'the last page',
    );

    const shown = async (query: string) => rowTitles((await panel.get(`/panel/services?${query}`)).html);
    assert.deepEqual(await shown('q=OTHER'), ['other-0', 'other-1']);
    assert.deepEqual(await shown('q=tree-5'), ['tree-50', 'tree-51', 'tree-52', 'tree-53', 'tree-54']);
    assert.deepEqual(await shown('node=COMP-2'), ['other-0', 'other-1']);
    assert.deepEqual(await shown(`release=${encodeURIComponent(RELEASE_B)}`), ['other-0', 'other-1']);
    assert.deepEqual(await shown('status=started'), ['tree-01', 'tree-03']);
    assert.deepEqual(await shown('status=promise-failing'), ['tree-02']);
    assert.deepEqual(await shown('status=waiting-software'), ['other-0', 'other-1']);
    assert.match((await panel.get('/panel/services?status=deploying')).html, /52 of 57 instance trees/);
    assert.deepEqual(await shown('status=failed'), []);
    assert.deepEqual(await shown('q=tree-0&status=started&node=computer'), ['tree-01', 'tree-03']);
    const filtered = await panel.get('/panel/services?q=tree&status=deploying');
    assert.match(filtered.html, /52 of 57 instance trees/);
    assert.match(
      filtered.html,
      /href="\/panel\/services\?q=tree&amp;status=deploying&amp;page=2" rel="next"/,
    );
    assert.match(filtered.html, /<option value="deploying" selected>deploying<\/option>/);

    for (const query of ['status=nonsense', 'page=0', 'page=-1', 'page=x', 'page=1e3'])
      assert.equal((await panel.get(`/panel/services?${query}`)).status, 400, query);
  } finally {
    await panel.close();
    await master.close();
  }
});

const HOSTILE = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  `lines${XML_TERMINATORS}end`,
];

test('instance tree page: every instance, hostile values shown as text, javascript: never a link, secrets masked', async () => {
  const master = await startTestMaster();
  const panel = new PanelClient(master.url);
  const services = master.master.services;
  try {
    await formatTestNode(master.url, { partitions: 3 });
    const title = `root <script>alert(1)</script> "/?#&'`;
    const long = 'L'.repeat(100_000);
    const parameters: Record<string, unknown> = { 'a"><img src=x onerror=alert(1)>': HOSTILE[0], long };
    HOSTILE.forEach((value, index) => (parameters[`p${index}`] = value));
    const root = await request(services, title, { parameters });
    const childTitle = `child ${HOSTILE[1]}`;
    const child = await request(services, childTitle, {
      requester: { computeNodeId: root.computeNodeId, partitionId: root.partitionId },
    });
    const connection = {
      site: 'https://example.com/a?b=<c>',
      bad: 'javascript:alert(1)',
      data: 'data:text/html,<script>alert(1)</script>',
      password: 'hunter2<script>',
      'private-key': 'https://secret.example/',
      long,
      lines: HOSTILE[3],
    };
    await services.setConnectionParameters({
      caller: LOCAL_CALLER,
      instanceGuid: root.instanceGuid,
      parameters: connection,
    });
    const errorMessage = `${HOSTILE.join('\n')}\n${long}`;
    await services.reportInstanceError({
      caller: LOCAL_CALLER,
      instanceGuid: child.instanceGuid,
      message: errorMessage,
    });
    await services.bangInstance({
      caller: LOCAL_CALLER,
      instanceGuid: child.instanceGuid,
      message: HOSTILE[2] ?? '',
    });
    await services.reportPromiseResults({
      caller: LOCAL_CALLER,
      instanceGuid: child.instanceGuid,
      results: [
        {
          name: HOSTILE[1] ?? '',
          status: 'fail',
          message: `${HOSTILE[0]}${TERMINATORS}`,
          date: '2026-12-07T00:00:00Z',
        },
      ],
    });

    const list = await panel.get('/panel/services');
    const href = `/panel/services/${encodeURIComponent(title)}`;
    assert.ok(list.html.includes(`href="${escapeHtml(href)}"`), 'the list links to the tree page');
    const answer = await panel.get(href);
    assert.equal(answer.status, 200);
    const page = answer.html;
    // Nothing hostile became markup: one script (the panel's own), no img, svg or handler.
    assert.equal(page.match(/<script/g)?.length, 1);
    assert.doesNotMatch(page, /<img|<svg/i);
    for (const tag of page.match(/<[^>]*>/g) ?? []) assert.doesNotMatch(tag, /\son\w+=/i, tag);
    assert.doesNotMatch(page, /href="\s*(javascript|data):/i);
    const text = textOf(page);
    for (const value of [title, childTitle, HOSTILE[0], HOSTILE[1], HOSTILE[2], 'javascript:alert(1)'])
      assert.ok(text.includes(value ?? ''), value);
    for (const value of [errorMessage, HOSTILE[3] ?? '', long, `${HOSTILE[0]}${TERMINATORS}`])
      assert.ok(page.includes(escapeHtml(value)), 'kept as it is, line terminators included');
    // http(s) URLs are links; secret values (even URLs) are masked behind a reveal.
    assert.match(
      page,
      /<a href="https:\/\/example\.com\/a\?b=%3Cc%3E" rel="noreferrer noopener">https:\/\/example\.com\/a\?b=&lt;c&gt;<\/a>/,
    );
    assert.match(
      page,
      /<details class="secret">\s*<summary>Reveal<\/summary>\s*<code>hunter2&lt;script&gt;<\/code>\s*<\/details>/,
    );
    assert.match(
      page,
      /<details class="secret">\s*<summary>Reveal<\/summary>\s*<code>https:\/\/secret\.example\/<\/code>/,
    );
    assert.doesNotMatch(page, /href="https:\/\/secret\.example/);
    // Both instances, live, with states, status, error, bang, promises and their timelines.
    assert.match(page, /<section id="instance-0" class="instance" data-live/);
    assert.match(page, /<section id="instance-1" class="instance" data-live/);
    assert.match(page, /<details id="instance-0-timeline" open>\s*<summary>Timeline/);
    assert.match(page, /<details id="instance-1-timeline" >\s*<summary>Timeline/);
    assert.match(page, /<ol class="timeline">/);
    assert.match(page, /<pre class="text-block error-message" tabindex="0">/);
    assert.match(text, /Requested state started Reported state none yet/);
    assert.match(page, /<span class="badge badge-waiting-for-software">waiting for software<\/span>/);
    assert.ok(page.includes(`<code>${escapeHtml(root.instanceGuid)}</code>`));
    assert.match(page, /<form class="inline" method="post" action="[^"]*\/stop" data-confirm="Stop /);
    assert.ok(page.length < 1_000_000);
  } finally {
    await panel.close();
    await master.close();
  }
});

test('instance tree page: random parameter values and promise messages (control characters, line terminators) are shown exactly', async () => {
  const master = await startTestMaster();
  const panel = new PanelClient(master.url);
  try {
    await formatTestNode(master.url, { partitions: 1 });
    const alphabet = [...`<>"'&/=:; ${TERMINATORS}\t\x01\x07\x1b\x7faé€😀`];
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const values = Array.from({ length: 40 }, () =>
      Array.from(
        { length: 1 + Math.floor(random() * 30) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join(''),
    );
    const parameters = Object.fromEntries(
      values.map((value, index) => [`v${index}`, `${value.replace(XML_ILLEGAL, '')}.`]),
    );
    const root = await request(master.master.services, 'random', { parameters });
    await master.master.services.reportPromiseResults({
      caller: LOCAL_CALLER,
      instanceGuid: root.instanceGuid,
      results: values.map((message, index) => ({ name: `p${index}`, status: 'pass', message, date: '' })),
    });
    const page = (await panel.get('/panel/services/random')).html;
    const stored = (await apiTree(master.url, 'random')).parameters as Record<string, string>;
    assert.equal(Object.keys(stored).length, values.length);
    for (const value of [...Object.values(stored), ...values]) {
      const escaped = escapeHtml(value);
      assert.ok(
        page.includes(`<code>${escaped}</code>`) ||
          page.includes(`<pre class="text-block" tabindex="0">${escaped}</pre>`),
        JSON.stringify(value),
      );
    }
  } finally {
    await panel.close();
    await master.close();
  }
});

test('stop, start and destroy from the tree page, read back through the API; refused without the CSRF token', async () => {
  const master = await startTestMaster();
  const panel = new PanelClient(master.url);
  try {
    await formatTestNode(master.url, { partitions: 2 });
    const title = 'web/site #1';
    const parameters = { greeting: 'hello <world>', n: '3' };
    await request(master.master.services, title, { parameters });
    const path = `/panel/services/${encodeURIComponent(title)}`;
    await panel.get(path);

    for (const action of ['stop', 'start', 'destroy']) {
      assert.equal((await panel.post(`${path}/${action}`, {}, { csrf: false })).status, 403, action);
      assert.equal(
        (await panel.post(`${path}/${action}`, {}, { origin: 'http://evil.example' })).status,
        403,
        action,
      );
    }
    assert.equal((await apiTree(master.url, title)).state, 'started', 'nothing changed');

    const stopped = await panel.post(`${path}/stop`, {});
    assert.equal(stopped.status, 303);
    assert.equal(stopped.location, path);
    const afterStop = await apiTree(master.url, title);
    assert.equal(afterStop.state, 'stopped');
    assert.deepEqual(afterStop.parameters, parameters, 'the same parameters');
    assert.equal(afterStop.software_release_uri, RELEASE_A);

    await panel.get(path);
    const started = await panel.post(`${path}/start`, {});
    assert.equal(started.location, path);
    assert.equal((await apiTree(master.url, title)).state, 'started');

    const confirm = await panel.get(`${path}/destroy`);
    assert.equal(confirm.status, 200);
    assert.match(textOf(confirm.html), /Destroy web\/site #1\? .*This cannot be undone/);
    assert.match(confirm.html, /<form method="post" action="\/panel\/services\/web%2Fsite%20%231\/destroy"/);
    assert.equal(
      (await apiTree(master.url, title)).state,
      'started',
      'the confirmation page changes nothing',
    );
    const destroyed = await panel.post(`${path}/destroy`, {});
    assert.equal(destroyed.status, 303);
    assert.equal(destroyed.location, '/panel/services');
    assert.equal((await apiTree(master.url, title)).state, 'destroyed');

    assert.equal((await panel.get('/panel/services/no-such-tree')).status, 404);
    assert.equal((await panel.get('/panel/services/no-such-tree/destroy')).status, 404);
    assert.equal((await panel.post('/panel/services/no-such-tree/stop', {})).status, 404);
  } finally {
    await panel.close();
    await master.close();
  }
});

test("master mode: another user's tree is not found (404) and cannot be stopped", async () => {
  const master = await startTestMasterMode();
  const panel = new PanelClient(master.url, { ca: master.caPem });
  try {
    const { token } = await master.admin.addUser({ name: 'alice', admin: false });
    await master.admin.addUser({ name: 'bob', admin: false });
    const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
    const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
    const services = master.master.services;
    await request(services, 'bobs-tree', { caller: bob });
    await request(services, 'alices-tree', { caller: alice });
    await panel.signIn(token);
    const list = await panel.get('/panel/services');
    assert.deepEqual(rowTitles(list.html), ['alices-tree']);
    assert.equal((await panel.get('/panel/services/alices-tree')).status, 200);
    const denied = await panel.get('/panel/services/bobs-tree');
    assert.equal(denied.status, 404);
    assert.doesNotMatch(denied.html, /<form[^>]*stop/);
    assert.equal((await panel.get('/panel/services/bobs-tree/destroy')).status, 404);
    assert.equal((await panel.post('/panel/services/bobs-tree/stop', {})).status, 404);
    assert.equal((await panel.post('/panel/services/bobs-tree/destroy', {})).status, 404);
    const bobs = await services.getInstanceTree({ caller: bob, title: 'bobs-tree' });
    assert.equal(bobs.state, 'started');
  } finally {
    await panel.close();
    await master.close();
  }
});
