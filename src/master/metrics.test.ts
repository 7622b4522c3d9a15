/**
 * `GET /metrics` on a real master (HTTP on 127.0.0.1, HTTPS in master mode): who may read it (proxy
 * mode's rule, admins and the scrape token in master mode), the request counters by route pattern
 * (a hostile URL adds no label value), the instance gauges against each instance's own status, the
 * nodes' contact age, the store and process figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { fixedClock } from '../core/clock.ts';
import { createAccessToken } from '../lib/access-token.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { postTls, startTestMasterMode } from '../testing/master-mode.ts';
import { callApi, formatTestNode, postJson, startTestMaster, type TestMaster } from '../testing/master.ts';
import { parsePrometheusText, sampleValue, type Sample } from '../testing/prometheus.ts';
import { LOCAL_CALLER } from './services/index.ts';

const SR = 'https://example.com/software.cfg';
const REQUESTS = 'slapos_master_http_requests_total';

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const response = await postJson(url, '/metrics', undefined, { method: 'GET', headers });
  assert.equal(response.status, 200, response.text);
  assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(response.text);
}

/** GETs a raw request target (sent as is: no URL parsing on the way). */
function getRaw(master: TestMaster, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      { host: '127.0.0.1', port: master.port, path: target, method: 'GET', agent: false, timeout: 30_000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    call.on('timeout', () => call.destroy(new Error('timed out')));
    call.on('error', reject);
    call.end();
  });
}

/** Every UTF-8 byte of `text` percent-encoded (lone surrogates as U+FFFD). */
function percentEncoded(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

async function requestInstance(url: string, title: string, state: 'started' | 'stopped'): Promise<string> {
  const answer = await callApi(url, '/slapos.post.v0.software_instance', {
    title,
    software_release_uri: SR,
    software_type: 'default',
    state,
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return (answer.body as { instance_guid: string }).instance_guid;
}

test('proxy mode: requests counted by route pattern and status; hostile URLs all count as unmatched', async () => {
  const master = await startTestMaster();
  try {
    await formatTestNode(master.url, { partitions: 2 });
    await requestInstance(master.url, 'one', 'started');
    const refused = await postJson(master.url, '/slapos.post.v0.software_instance', { title: 1 });
    assert.equal(refused.status, 400);
    const random = seededRandom(10);
    const targets = [
      '/metrics/',
      '/../../etc/passwd',
      '/%00%0a%0d',
      '/%ff%fe%c0%af',
      '/slapos.post.v0.software_instance/extra',
      ...Array.from({ length: 40 }, () => `/${percentEncoded(hostileString(random).slice(0, 200))}`),
      ...Array.from({ length: 10 }, () => `/x?${percentEncoded(hostileString(random).slice(0, 200))}`),
    ];
    // 404; or 400 for a path that is not valid UTF-8 once decoded (answered before routing).
    let badUrls = 0;
    for (const target of targets) {
      const response = await getRaw(master, target);
      assert.ok(response.status === 404 || response.status === 400, target.slice(0, 100));
      assert.deepEqual(Object.keys(JSON.parse(response.body) as object).sort(), ['status', 'title', 'type']);
      if (response.status === 400) {
        badUrls++;
        assert.equal(response.body.includes('%'), false, 'the path is not repeated');
      }
    }
    assert.ok(badUrls >= 1 && badUrls < targets.length, `${badUrls}`);
    const samples = await scrape(master.url);
    const requests = samples.filter((sample) => sample.name === REQUESTS);
    assert.equal(
      sampleValue(requests, REQUESTS, {
        route: '/slapos.put.v0.compute_node_format',
        method: 'POST',
        status: '200',
      }),
      1,
    );
    const instanceRoute = { route: '/slapos.post.v0.software_instance', method: 'POST' };
    assert.equal(sampleValue(requests, REQUESTS, { ...instanceRoute, status: '200' }), 1);
    assert.equal(sampleValue(requests, REQUESTS, { ...instanceRoute, status: '400' }), 1);
    const unmatched = requests.filter((sample) => sample.labels.route === 'unmatched');
    assert.equal(
      unmatched.reduce((sum, sample) => sum + sample.value, 0),
      targets.length,
    );
    // Every route label is a route pattern the master serves (or `unmatched`): no URL made its own.
    const routes = new Set(requests.map((sample) => sample.labels.route));
    assert.deepEqual(
      [...routes].sort(),
      ['/slapos.post.v0.software_instance', '/slapos.put.v0.compute_node_format', 'unmatched'].sort(),
    );
    assert.equal(sampleValue(samples, 'slapos_master_http_request_duration_seconds_count', instanceRoute), 2);
    // The scrape itself is counted once answered: the next scrape shows it.
    const again = await scrape(master.url);
    assert.equal(sampleValue(again, REQUESTS, { route: '/metrics', method: 'GET', status: '200' }), 1);
    // Store transactions and the process's own figures.
    assert.ok(
      (sampleValue(samples, 'slapos_master_store_transaction_seconds_count', { kind: 'write' }) ?? 0) >= 2,
    );
    assert.ok(
      (sampleValue(samples, 'slapos_master_store_transaction_seconds_count', { kind: 'read' }) ?? 0) >= 1,
    );
    assert.ok(samples.some((sample) => sample.name === 'slapos_master_process_cpu_user_seconds_total'));
    assert.ok(samples.some((sample) => sample.name === 'slapos_master_nodejs_eventloop_lag_seconds'));
  } finally {
    await master.close();
  }
});

test('proxy mode: instances by requested state and status match each instance status', async () => {
  const master = await startTestMaster();
  try {
    await formatTestNode(master.url, { partitions: 5 });
    const guids = [
      await requestInstance(master.url, 'a', 'started'),
      await requestInstance(master.url, 'b', 'started'),
      await requestInstance(master.url, 'c', 'stopped'),
      await requestInstance(master.url, 'd', 'started'),
    ];
    // Its software release available on the node, and `d` reported started: `d` is started, the
    // others deploying; with no software installation reported, they would wait for software.
    const supply = await callApi(master.url, '/slapos.post.v0.software_installation', {
      computer_guid: 'computer',
      software_release_uri: SR,
      state: 'available',
    });
    assert.equal(supply.status, 200, JSON.stringify(supply.body));
    const built = await callApi(master.url, '/slapos.put.v0.software_installation_reported_state', {
      computer_guid: 'computer',
      software_release_uri: SR,
      reported_state: 'available',
    });
    assert.equal(built.status, 200, JSON.stringify(built.body));
    const reported = await callApi(master.url, '/slapos.put.v0.software_instance_reported_state', {
      instance_guid: guids[3],
      reported_state: 'started',
    });
    assert.equal(reported.status, 200, JSON.stringify(reported.body));

    const expected = new Map<string, number>();
    for (const guid of guids) {
      const status = await master.master.services.readInstanceStatus({
        caller: LOCAL_CALLER,
        instanceGuid: guid,
      });
      const key = `${status.requestedState} ${status.status}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    assert.ok(expected.size >= 2, JSON.stringify([...expected]));
    const samples = (await scrape(master.url)).filter((sample) => sample.name === 'slapos_master_instances');
    const shown = new Map(
      samples
        .filter((sample) => sample.value !== 0)
        .map((sample) => [`${sample.labels.requested_state} ${sample.labels.status}`, sample.value]),
    );
    assert.deepEqual(shown, expected);
    assert.equal(
      sampleValue(samples, 'slapos_master_instances', { requested_state: 'started', status: 'started' }),
      1,
    );
    // Every requested state × status is shown, at zero when there is none.
    assert.equal(samples.length, 3 * 8);
  } finally {
    await master.close();
  }
});

test("proxy mode: compute nodes by their last call's age, recorded in the store", async () => {
  const clock = fixedClock(1_700_000_000);
  const master = await startTestMaster({ clock });
  try {
    for (const node of ['n1', 'n2', 'n3'])
      await formatTestNode(master.url, { computerGuid: node, partitions: 1 });
    const snapshot = await callApi(master.url, '/slapos.get.ext.compute_node_snapshot', {
      computer_guid: 'n1',
    });
    assert.equal(snapshot.status, 200);
    clock.advance(120);
    const watch = await callApi(master.url, '/slapos.watch.ext.compute_node_revision', {
      computer_guid: 'n2',
      after_revision: 0,
      timeout_ms: 0,
    });
    assert.equal(watch.status, 200);
    clock.advance(30);
    const ages = (await scrape(master.url)).filter(
      (sample) => sample.name === 'slapos_master_compute_nodes_by_contact_age',
    );
    const byAge = Object.fromEntries(ages.map((sample) => [sample.labels.age ?? '', sample.value]));
    assert.deepEqual(byAge, { lt_1m: 1, lt_5m: 1, lt_1h: 0, ge_1h: 0, never: 1 });
    // Written to the store by the coalesced flush (a timer, or close()).
    const { services } = master.master;
    await services.context.contacts.flush();
    const stored = await services.context.store.read((repository) => repository.listComputeNodeContacts());
    assert.deepEqual(stored, [
      { computeNodeId: 'n1', lastContactAt: 1_700_000_000 },
      { computeNodeId: 'n2', lastContactAt: 1_700_000_120 },
      { computeNodeId: 'n3', lastContactAt: null },
    ]);
  } finally {
    await master.close();
  }
});

test('proxy mode with a local token: /metrics needs it like the API', async () => {
  const token = createAccessToken();
  const master = await startTestMaster({ accessToken: token });
  try {
    const anonymous = await postJson(master.url, '/metrics', undefined, { method: 'GET' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="SlapOS master"');
    assert.deepEqual(Object.keys(anonymous.body as object).sort(), ['status', 'title', 'type']);
    const wrong = await postJson(master.url, '/metrics', undefined, {
      method: 'GET',
      headers: { authorization: `Bearer ${createAccessToken()}` },
    });
    assert.equal(wrong.status, 401);
    // Refused before its body is parsed (not JSON: a 400 once parsed).
    const anonymousPost = await postJson(master.url, '/metrics', undefined, { rawBody: '{not json' });
    assert.equal(anonymousPost.status, 401, anonymousPost.text);
    const head = await postJson(master.url, '/metrics', undefined, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    const post = await postJson(
      master.url,
      '/metrics',
      {},
      { headers: { authorization: `Bearer ${token}` } },
    );
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    await scrape(master.url, { authorization: `Bearer ${token}` });
  } finally {
    await master.close();
  }
});

test('master mode: an admin or the scrape token reads /metrics; another user gets 403, nobody 401', async () => {
  const scrapeToken = createAccessToken();
  const master = await startTestMasterMode({ metricsToken: scrapeToken });
  try {
    const alice = await master.admin.addUser({ name: 'alice', admin: false });
    const root = await master.admin.addUser({ name: 'root', admin: true });
    const get = (token?: string) =>
      postTls(master.url, '/metrics', undefined, { ca: master.caPem, token, method: 'GET' });

    const anonymous = await get();
    assert.equal(anonymous.status, 401, anonymous.text);
    const wrong = await get(createAccessToken());
    assert.equal(wrong.status, 401, wrong.text);
    const denied = await get(alice.token);
    assert.equal(denied.status, 403, denied.text);
    assert.deepEqual(denied.body, {
      status: 403,
      type: 'Forbidden',
      title: (denied.body as { title: string }).title,
    });
    for (const token of [root.token, scrapeToken]) {
      const allowed = await get(token);
      assert.equal(allowed.status, 200, allowed.text);
      const samples = parsePrometheusText(allowed.text);
      assert.equal(sampleValue(samples, REQUESTS, { route: 'unmatched', status: '401' }), undefined);
      assert.ok(
        (sampleValue(samples, REQUESTS, { route: '/metrics', method: 'GET', status: '403' }) ?? 0) >= 1,
      );
    }
    // The scrape token is no credential for the API.
    const api = await postTls(
      master.url,
      '/slapos.get.v0.hateoas_url',
      {},
      { ca: master.caPem, token: scrapeToken },
    );
    assert.equal(api.status, 401, api.text);
  } finally {
    await master.close();
  }
});
