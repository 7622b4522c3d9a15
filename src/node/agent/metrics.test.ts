/**
 * The node agent's `/metrics`: `metrics_address` checked (a non-loopback address needs a token
 * file), the listener's authentication, and the real agent process (runAgentProcess with a real
 * master, supervisor and service) counting its passes, its partitions by state and a supervisor
 * restart after its service is killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAccessToken, writeAccessTokenFile } from '../../lib/access-token.ts';
import { createLogger, silentLogger } from '../../lib/logger.ts';
import { parseNodeConfig } from '../config.ts';
import { HOSTILE_PIECES, LINE_TERMINATORS } from '../../testing/hostile-strings.ts';
import { makeTempDir } from '../../testing/node.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
} from '../../testing/node-passes.ts';
import { parsePrometheusText, sampleValue, type Sample } from '../../testing/prometheus.ts';
import { throwsSlapError } from '../../testing/slap-error-assert.ts';
import { waitFor } from '../../testing/supervisor.ts';
import { NodeAgentMetrics, startNodeMetricsServer } from './metrics.ts';
import { runAgentProcess } from './run-agent.ts';
import { nodeMetricsSettings } from './settings.ts';

function config(extra: string) {
  return parseNodeConfig(
    `[slapos]\ncomputer_id = C\nmaster_url = http://127.0.0.1:1/\nsoftware_root = /s\ninstance_root = /i\n${extra}\n`,
    { file: '/etc/slapos/slapos.cfg', isRoot: false },
  );
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Sample[]> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await response.text());
}

test('metrics_address: loopback only unless metrics_token_file is set; anything else is refused', () => {
  assert.equal(nodeMetricsSettings(config('')), undefined);
  assert.deepEqual(nodeMetricsSettings(config('metrics_address = 127.0.0.1:9100')), {
    host: '127.0.0.1',
    port: 9100,
    tokenFile: undefined,
  });
  assert.deepEqual(nodeMetricsSettings(config('metrics_address = [::1]:0')), {
    host: '::1',
    port: 0,
    tokenFile: undefined,
  });
  for (const address of ['0.0.0.0:9100', '10.0.0.1:9100', '[::]:9100', '[2001:db8::1]:9100'])
    throwsSlapError(
      () => nodeMetricsSettings(config(`metrics_address = ${address}`)),
      'SLAP_ERR_INSECURE_LISTEN',
    );
  assert.deepEqual(
    nodeMetricsSettings(config('metrics_address = 0.0.0.0:9100\nmetrics_token_file = metrics.token')),
    { host: '0.0.0.0', port: 9100, tokenFile: '/etc/slapos/metrics.token' },
  );
  for (const address of [
    'localhost:9100',
    '127.0.0.1',
    '127.0.0.1:65536',
    '::1:9100',
    '[127.0.0.1]:9100',
    '127.0.0.1:-1',
    // In the middle: an INI value is trimmed, and a line terminator ends it.
    ...HOSTILE_PIECES.filter(
      (piece) => !/^\d*$/.test(piece) && !LINE_TERMINATORS.some((end) => piece.includes(end)),
    ).map((piece) => `127.0.0.1${piece}:9100`),
  ])
    throwsSlapError(() => nodeMetricsSettings(config(`metrics_address = ${address}`)), 'SLAP_ERR_CONFIG');
});

test('the metrics listener: with a token file, every request needs the token', async () => {
  const dir = await makeTempDir('slapos-node-metrics-');
  const token = createAccessToken();
  const tokenFile = join(dir, 'metrics.token');
  await writeAccessTokenFile(tokenFile, token);
  const metrics = new NodeAgentMetrics();
  metrics.observePass({ kind: 'report', outcome: 'sent', seconds: 0.25 });
  const server = await startNodeMetricsServer(
    metrics,
    { host: '127.0.0.1', port: 0, tokenFile },
    { logger: silentLogger() },
  );
  try {
    for (const headers of [
      {},
      { authorization: `Bearer ${createAccessToken()}` },
      { authorization: token },
    ]) {
      const refused = await fetch(server.url, { headers });
      assert.equal(refused.status, 401);
      assert.deepEqual(Object.keys((await refused.json()) as object).sort(), ['status', 'title', 'type']);
    }
    const auth = { authorization: `Bearer ${token}` };
    const samples = await scrape(server.url, auth);
    assert.equal(sampleValue(samples, 'slapos_node_passes_total', { kind: 'report', outcome: 'sent' }), 1);
    assert.equal(sampleValue(samples, 'slapos_node_pass_duration_seconds_sum', { kind: 'report' }), 0.25);
    assert.ok(samples.some((sample) => sample.name === 'slapos_node_process_cpu_user_seconds_total'));
    assert.equal((await fetch(server.url.replace('/metrics', '/other'), { headers: auth })).status, 404);
    const post = await fetch(server.url, { method: 'POST', headers: auth, body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    await server.close();
  }
});

test('the agent process counts its passes, its partitions by state and the supervisor restarts', async () => {
  const h = await startNodeHarness({
    partitions: 2,
    cfg: { slapos: { metrics_address: '127.0.0.1:0', agent_promise_grace: 5 } },
  });
  const logFile = join(h.dir, 'agent.log');
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let running: Promise<void> | undefined;
  try {
    const hello = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: hello, computerGuid: COMPUTER_ID });
    await h.client.requestInstance({ title: 'hello', softwareReleaseUri: hello });
    running = runAgentProcess(h.config, {
      logger: createLogger({ level: 'info', destination: logFile }),
      stop: stopped,
    });
    const url = await waitFor('the metrics listener', async () => {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      return /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(log)?.[1];
    });
    const started = await waitFor(
      'the partition started',
      async () => {
        const samples = await scrape(url);
        return (sampleValue(samples, 'slapos_node_partitions', { state: 'started' }) ?? 0) === 1 && samples;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(
      sampleValue(started, 'slapos_node_passes_total', { kind: 'software', outcome: 'installed' }),
      1,
    );
    assert.equal(
      sampleValue(started, 'slapos_node_passes_total', { kind: 'partition', outcome: 'started' }),
      1,
    );
    assert.equal(sampleValue(started, 'slapos_node_pass_duration_seconds_count', { kind: 'partition' }), 1);
    assert.equal(sampleValue(started, 'slapos_node_failing_promises'), 0);
    assert.equal(sampleValue(started, 'slapos_node_supervisor_restarts_total'), 0);

    // Killed, the service is started again by the supervisor: counted.
    const service = (await h.supervisor.status()).processes.find((process) => process.state === 'RUNNING');
    assert.ok(service?.pid, 'a running service');
    process.kill(service.pid, 'SIGKILL');
    await waitFor('the restart counted', async () => {
      const samples = await scrape(url);
      return (
        (sampleValue(samples, 'slapos_node_supervisor_restarts_total') ?? 0) >= 1 &&
        (sampleValue(samples, 'slapos_node_supervisor_unexpected_exits_total') ?? 0) >= 1
      );
    });
  } finally {
    stop();
    await running;
    await h.close();
  }
});
