/**
 * Master mode's costs (`npm run bench -- master-mode [--reads 4000] [--concurrency 8]
 * [--fresh 200] [--registrations 1000] [--registration-concurrency 16]`):
 *
 * 1. a compute node's reads of its instance list over keep-alive connections: master mode (mutual
 *    TLS, the node's certificate checked on every request, the master-mode authorizer) against
 *    proxy mode (plain HTTP, no authentication), same workload, requests/s and the ratio;
 * 2. one node call on a fresh TLS connection each (full handshake with the client certificate), p50/p99;
 * 3. node registrations (a registration token and a CSR each) at a concurrency, p50/p99, failures.
 *
 * Both masters run the compiled CLI (`slapos master start`, `slapos proxy start`; dist/ is rebuilt
 * first) in child processes; this process generates the load with undici.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Pool } from 'undici';
import { createKeyAndCertificateRequest } from '../src/lib/certificate-request.ts';

const { values } = parseArgs({
  options: {
    reads: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '8' },
    fresh: { type: 'string', default: '200' },
    registrations: { type: 'string', default: '1000' },
    'registration-concurrency': { type: 'string', default: '16' },
  },
});
const READS = Number(values.reads);
const CONCURRENCY = Number(values.concurrency);
const FRESH = Number(values.fresh);
const REGISTRATIONS = Number(values.registrations);
const REGISTRATION_CONCURRENCY = Number(values['registration-concurrency']);
const PARTITIONS = 20;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'slapos.js');
const run = promisify(execFile);

interface Server {
  url: string;
  stop(): Promise<void>;
}

async function start(args: string[], pattern: RegExp): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`not listening: ${text}`)), 60_000);
    const look = (chunk: Buffer): void => {
      text += chunk.toString();
      const match = pattern.exec(text);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    void exited.then(() => reject(new Error(`exited: ${text}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

async function call(
  pool: Pool,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await pool.request({
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as unknown;
}

/** `count` calls of `one`, `concurrency` at a time; the latency of each (ms) and the elapsed seconds. */
async function load(
  count: number,
  concurrency: number,
  one: (index: number) => Promise<unknown>,
): Promise<{ latencies: number[]; seconds: number; failures: number }> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        const begin = performance.now();
        try {
          await one(index);
          latencies.push(performance.now() - begin);
        } catch (error) {
          failures++;
          if (failures === 1) console.error(String(error));
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { latencies, seconds: (performance.now() - started) / 1000, failures };
}

function format(computerGuid: string): unknown {
  return {
    computer_guid: computerGuid,
    compute_partition_list: Array.from({ length: PARTITIONS }, (_, index) => ({
      partition_id: `slappart${index}`,
      ip_list: [{ 'ip-address': `10.0.0.${index + 1}`, 'network-interface': 'lo' }],
    })),
  };
}

async function readsPerSecond(pool: Pool, computerGuid: string): Promise<number> {
  const path = '/slapos.allDocs.v0.compute_node_instance_list';
  await load(200, CONCURRENCY, () => call(pool, path, { computer_guid: computerGuid }));
  const { seconds, failures } = await load(READS, CONCURRENCY, () =>
    call(pool, path, { computer_guid: computerGuid }),
  );
  if (failures > 0) throw new Error(`${failures} reads failed`);
  return READS / seconds;
}

await run(
  process.execPath,
  [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: ROOT,
    timeout: 600_000,
  },
);
const work = await mkdtemp(join(tmpdir(), 'slapos-bench-master-mode-'));
try {
  // --- proxy mode ---
  const proxy = await start(
    ['proxy', 'start', '--port', '0', '--database', join(work, 'proxy.db'), '--computer-id', 'bench'],
    /"url":"(http:[^"]+)".*"msg":"master listening"/,
  );
  const proxyPool = new Pool(proxy.url, { connections: CONCURRENCY });
  await call(proxyPool, '/slapos.put.v0.compute_node_format', format('bench'));
  const proxyRate = await readsPerSecond(proxyPool, 'bench');
  await proxyPool.close();
  await proxy.stop();

  // --- master mode ---
  const dir = join(work, 'master');
  const master = await start(
    ['master', 'start', '--dir', dir, '--port', '0'],
    /listening on (https:\/\/\S+)/,
  );
  const { stdout } = await run(process.execPath, [
    BIN,
    'master',
    'user',
    'add',
    'bench',
    '--dir',
    dir,
    '--json',
  ]);
  const { token } = JSON.parse(stdout) as { token: string };
  const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
  const userPool = new Pool(master.url, { connections: REGISTRATION_CONCURRENCY, connect: { ca } });
  const bearer = { authorization: `Bearer ${token}` };
  const registrationToken = async (): Promise<string> =>
    ((await call(userPool, '/slapos.post.ext.registration_token', {}, bearer)) as { token: string }).token;
  const register = async (registration: string, title: string, csrPem: string) =>
    (await call(
      userPool,
      '/slapos.post.ext.compute_node_registration',
      { title, certificate_request: csrPem },
      { authorization: `Bearer ${registration}` },
    )) as { computer_guid: string; certificate: string };

  const nodeKey = await createKeyAndCertificateRequest('bench-node');
  const node = await register(await registrationToken(), 'bench-node', nodeKey.csrPem);
  const tls = { ca, key: nodeKey.keyPem, cert: node.certificate };
  const nodePool = new Pool(master.url, { connections: CONCURRENCY, connect: tls });
  await call(nodePool, '/slapos.put.v0.compute_node_format', format(node.computer_guid));
  const masterRate = await readsPerSecond(nodePool, node.computer_guid);
  await nodePool.close();

  // One call per fresh TLS connection.
  const fresh = await load(
    FRESH,
    1,
    () =>
      new Promise<void>((resolve, reject) => {
        const url = new URL('/slapos.allDocs.v0.compute_node_instance_list', master.url);
        const request = httpsRequest(
          url,
          { method: 'POST', agent: false, ...tls, headers: { 'content-type': 'application/json' } },
          (response) => {
            response.resume();
            response.on('end', () =>
              response.statusCode === 200 ? resolve() : reject(new Error(`${response.statusCode}`)),
            );
          },
        );
        request.on('error', reject);
        request.end(JSON.stringify({ computer_guid: node.computer_guid }));
      }),
  );

  // Registrations: the tokens and requests are made first, only the registrations are timed.
  const tokens = await Promise.all(Array.from({ length: REGISTRATIONS }, () => registrationToken()));
  const requests = await Promise.all(
    Array.from({ length: REGISTRATIONS }, (_, index) => createKeyAndCertificateRequest(`node-${index}`)),
  );
  const registrations = await load(REGISTRATIONS, REGISTRATION_CONCURRENCY, (index) =>
    register(tokens[index] ?? '', `node-${index}`, requests[index]?.csrPem ?? ''),
  );
  await userPool.close();
  await master.stop();

  const ms = (value: number): string => `${value.toFixed(2)} ms`;
  console.log(`node reads of its instance list, ${READS} at concurrency ${CONCURRENCY}, keep-alive:`);
  console.log(`  proxy mode (HTTP):          ${proxyRate.toFixed(0)} requests/s`);
  console.log(
    `  master mode (mutual TLS):   ${masterRate.toFixed(0)} requests/s (${((100 * masterRate) / proxyRate).toFixed(0)}% of proxy mode)`,
  );
  console.log(
    `node call on a fresh TLS connection (${FRESH}, one at a time): p50 ${ms(percentile(fresh.latencies, 50))}, p99 ${ms(percentile(fresh.latencies, 99))}, failures ${fresh.failures}`,
  );
  console.log(
    `${REGISTRATIONS} node registrations at concurrency ${REGISTRATION_CONCURRENCY}: ${(REGISTRATIONS / registrations.seconds).toFixed(0)}/s, p50 ${ms(percentile(registrations.latencies, 50))}, p99 ${ms(percentile(registrations.latencies, 99))}, failures ${registrations.failures}`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
