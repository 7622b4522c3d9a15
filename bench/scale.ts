/**
 * Scale benchmark (`npm run bench -- scale [--nodes 10000] [--partitions 100] [--instances 200000]
 * [--seconds 60] [--watchers 2000] [--requests 50] [--usage 100] [--poll-period 60]
 * [--ramp-start 0.25] [--ramp-step-seconds 10] [--ramp-factor 1.5] [--no-ramp] [--cache DIR]`): the steady state of a
 * large cloud against one master (`slapos proxy start`, the compiled CLI in a child process).
 *
 * The cloud (bench/_scale-load.ts) is loaded in bulk into the database first (not timed, but its
 * time is printed; `--cache DIR` keeps the loaded database and copies it on later runs). Then, open
 * loop (each call is sent at its planned time whatever the answers before it; a latency counts from
 * the planned time, so a master that falls behind is not hidden by a load generator waiting for it):
 * - polls: every compute node reads its instance list (`compute_node_instance_list`) once per
 *   poll period, the nodes spread evenly over it (10,000 nodes, 60 s: 167 polls/s);
 * - requests: `--requests` instance requests per second: 60% new instances on a random node (an
 *   allocation), 30% an existing tree's root requested again with new parameters, 10% a new shared
 *   instance on the node of an existing root;
 * - usage: `--usage` usage reports per second (`compute_node_usage`), each a TioXML journal of the
 *   node's busy partitions (CPU, memory, disk movements each, as the node's report sends them);
 * - the change stream: `--watchers` compute nodes (spread over the cloud) run the agent's loop: read
 *   the node snapshot, long-poll its revision (30 s, the agent's default; the first wait is shorter,
 *   at random, so that the watchers do not expire together), read the snapshot again when woken or
 *   at the deadline, and so on. A wake-up's latency runs from the moment the request that changed the
 *   node was sent to the watcher's answer.
 * A warm-up (15 s, not counted) comes first: the watchers start one after another, at a tenth of
 * the steady rates.
 * Every figure per call kind: count, p50/p99/max (ms), errors; the master's resident memory (highest
 * and last, from /proc), its CPU and the load generator's. Then the ramp: the same mix (watchers
 * unchanged) at `--ramp-start` times its rates, multiplied by `--ramp-factor` each
 * `--ramp-step-seconds`, until a kind's p99 passes 50 ms or a call fails: the sustainable rate is the
 * last step within it.
 *
 * The load generator shares the machine's cores with the master: its CPU share is printed.
 */
import { setMaxListeners } from 'node:events';
import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { usageJournal, usageMovements } from '../src/node/report/usage-xml.ts';
import { seededRandom } from '../src/testing/hostile-strings.ts';
import { build, startProxyMode, type Server } from './_master-servers.ts';
import {
  instanceParameters,
  loadCloud,
  nodeReference,
  placeOf,
  SCALE_SOFTWARE,
  TREE_SIZE,
  type CloudShape,
} from './_scale-load.ts';

const WATCH_MS = 30_000;
const WARMUP_SECONDS = 15;
const P99_LIMIT_MS = 50;

interface Options extends CloudShape {
  seconds: number;
  watchers: number;
  requestRate: number;
  usageRate: number;
  pollPeriodSeconds: number;
  rampStepSeconds: number;
  rampFactor: number;
  rampStart: number;
  ramp: boolean;
  cache: string | undefined;
}

/** The latencies and failures of one kind of call over one measured period. */
class Figures {
  readonly latencies: number[] = [];
  errors = 0;
  firstError: string | undefined;

  record(ms: number): void {
    this.latencies.push(ms);
  }

  fail(error: unknown): void {
    this.errors++;
    this.firstError ??= error instanceof Error ? error.message : String(error);
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? NaN;
}

const KINDS = ['poll', 'request', 'usage', 'snapshot', 'wake-up'] as const;
type Kind = (typeof KINDS)[number];

/** The figures of every kind over one period. */
class Period {
  readonly figures = new Map<Kind, Figures>(KINDS.map((kind) => [kind, new Figures()]));
  watches = 0;
  watchErrors = 0;

  of(kind: Kind): Figures {
    const figures = this.figures.get(kind);
    if (!figures) throw new Error(`no figures for ${kind}`);
    return figures;
  }

  /** The highest p99 of the calls the master answers (the wake-up is not a call). */
  worstP99(): number {
    let worst = 0;
    for (const kind of ['poll', 'request', 'usage', 'snapshot'] as const) {
      const sorted = [...this.of(kind).latencies].sort((a, b) => a - b);
      if (sorted.length > 0) worst = Math.max(worst, percentile(sorted, 0.99));
    }
    return worst;
  }

  /** Calls answered, watch answers included. */
  calls(): number {
    let calls = this.watches;
    for (const kind of ['poll', 'request', 'usage', 'snapshot'] as const)
      calls += this.of(kind).latencies.length;
    return calls;
  }

  errors(): number {
    let errors = this.watchErrors;
    for (const figures of this.figures.values()) errors += figures.errors;
    return errors;
  }
}

const CLOCK_TICKS = 100;

function cpuSeconds(pid: number | undefined): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** Resident memory of a process in MB (VmRSS), NaN where /proc is unavailable. */
function rssMb(pid: number | undefined): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const HEADERS = { 'content-type': 'application/json', 'accept-encoding': 'gzip' };

/** POSTs and returns the answer's JSON text (decompressed); anything but 200 throws. */
async function post(pool: Pool, path: string, body: string, signal?: AbortSignal): Promise<string> {
  const response = await pool.request({
    path,
    method: 'POST',
    headers: HEADERS,
    body,
    ...(signal ? { signal } : {}),
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const text =
    response.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes).toString() : bytes.toString();
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${text.slice(0, 300)}`);
  return text;
}

/** POSTs and throws on anything but 200, without reading the answer's JSON. */
async function send(pool: Pool, path: string, body: string, signal: AbortSignal): Promise<void> {
  const response = await pool.request({ path, method: 'POST', headers: HEADERS, body, signal });
  if (response.statusCode !== 200)
    throw new Error(`${path}: ${response.statusCode} ${(await response.body.text()).slice(0, 300)}`);
  await response.body.dump({ limit: Infinity });
}

/** The calls of the cloud: what each kind sends, and where the change stream must wake a node. */
class Cloud {
  private readonly random = seededRandom(13);
  private sequence = 0;
  private readonly run = Date.now().toString(36);
  private readonly busySlots: number;
  /** Watched node → when the first request that changed it since its last wake-up was sent. */
  readonly changedAt = new Map<number, number>();
  readonly watched = new Set<number>();

  constructor(
    readonly shape: CloudShape,
    private readonly pool: Pool,
  ) {
    this.busySlots = Math.ceil(shape.instances / shape.nodes);
  }

  private randomNode(): number {
    return Math.floor(this.random() * this.shape.nodes);
  }

  private randomRoot(): number {
    const trees = Math.floor(this.shape.instances / TREE_SIZE);
    return Math.floor(this.random() * trees) * TREE_SIZE;
  }

  poll(node: number, signal: AbortSignal): Promise<void> {
    return send(
      this.pool,
      '/slapos.allDocs.v0.compute_node_instance_list',
      JSON.stringify({ computer_guid: nodeReference(node) }),
      signal,
    );
  }

  /** One instance request of the mix; notes the node it changes for the wake-up latency. */
  request(signal: AbortSignal): Promise<void> {
    const pick = this.random();
    const sequence = this.sequence++;
    let node: number;
    let body: Record<string, unknown>;
    if (pick < 0.6) {
      node = this.randomNode();
      body = {
        title: `scale-${this.run}-${sequence}`,
        software_release_uri: SCALE_SOFTWARE,
        software_type: 'default',
        parameters: instanceParameters(sequence, 0),
        sla_parameters: { computer_guid: nodeReference(node) },
      };
    } else {
      const root = this.randomRoot();
      node = placeOf(this.shape, root).node;
      body =
        pick < 0.9
          ? {
              title: `tree-${root}`,
              software_release_uri: SCALE_SOFTWARE,
              software_type: 'default',
              parameters: instanceParameters(root, sequence + 1),
              sla_parameters: { computer_guid: nodeReference(node) },
            }
          : {
              title: `scale-shared-${this.run}-${sequence}`,
              software_release_uri: SCALE_SOFTWARE,
              software_type: 'default',
              shared: true,
              parameters: { 'custom-domain': `site${sequence}.example.com`, 'https-only': 'true' },
              sla_parameters: { computer_guid: nodeReference(node) },
            };
    }
    if (this.watched.has(node) && !this.changedAt.has(node)) this.changedAt.set(node, performance.now());
    return send(this.pool, '/slapos.post.v0.software_instance', JSON.stringify(body), signal);
  }

  usage(signal: AbortSignal): Promise<void> {
    const node = this.randomNode();
    const movements = Array.from({ length: this.busySlots }, (_, slot) =>
      usageMovements({
        partitionId: `slappart${slot}`,
        cpuSeconds: this.random() * 3600,
        memoryBytes: Math.floor(this.random() * 2 ** 31),
        diskBytes: Math.floor(this.random() * 2 ** 33),
      }),
    ).flat();
    const tioxml = usageJournal({ computerId: nodeReference(node), now: Date.now() / 1000, movements });
    return send(
      this.pool,
      '/slapos.post.v0.compute_node_usage',
      JSON.stringify({ computer_guid: nodeReference(node), tioxml }),
      signal,
    );
  }
}

/** An AbortController whose signal every watcher's call listens to (one listener each). */
function abortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(Infinity, controller.signal);
  return controller;
}

/**
 * The agents of the watching nodes: snapshot, long poll, snapshot… until stopped. The figures go to
 * whichever period is current.
 */
class Watchers {
  private stopped = false;
  private readonly abort = abortController();
  private readonly loops: Promise<void>[] = [];
  period: Period;

  constructor(
    private readonly cloud: Cloud,
    private readonly pool: Pool,
    count: number,
    period: Period,
  ) {
    this.period = period;
    const step = cloud.shape.nodes / Math.max(1, count);
    for (let index = 0; index < count; index++) cloud.watched.add(Math.floor(index * step));
  }

  /**
   * Starts the agents one after another over `spreadMs` (nodes do not all boot at the same
   * moment); each one's first wait is shorter than WATCH_MS, at random, so that they do not all
   * reach their deadline together either.
   */
  start(spreadMs: number): void {
    const random = seededRandom(29);
    const nodes = [...this.cloud.watched];
    nodes.forEach((node, index) => {
      const firstWaitMs = random() * WATCH_MS;
      const delay = (index * spreadMs) / nodes.length;
      this.loops.push(
        new Promise((resolve) => setTimeout(resolve, delay)).then(() =>
          this.stopped ? undefined : this.agent(node, firstWaitMs),
        ),
      );
    });
  }

  private async snapshot(node: number): Promise<number> {
    const before = performance.now();
    const text = await post(
      this.pool,
      '/slapos.get.ext.compute_node_snapshot',
      JSON.stringify({ computer_guid: nodeReference(node) }),
      this.abort.signal,
    );
    this.period.of('snapshot').record(performance.now() - before);
    return (JSON.parse(text) as { revision: number }).revision;
  }

  private async agent(node: number, firstWaitMs: number): Promise<void> {
    let revision: number | undefined;
    let waitMs = firstWaitMs;
    while (!this.stopped) {
      try {
        revision ??= await this.snapshot(node);
        const answer = JSON.parse(
          await post(
            this.pool,
            '/slapos.watch.ext.compute_node_revision',
            JSON.stringify({
              computer_guid: nodeReference(node),
              after_revision: revision,
              timeout_ms: Math.ceil(waitMs),
            }),
            this.abort.signal,
          ),
        ) as { changed: boolean };
        this.period.watches++;
        waitMs = WATCH_MS;
        if (answer.changed) {
          const changedAt = this.cloud.changedAt.get(node);
          this.cloud.changedAt.delete(node);
          if (changedAt !== undefined) this.period.of('wake-up').record(performance.now() - changedAt);
        }
        if (this.stopped) return;
        revision = await this.snapshot(node);
      } catch (error) {
        if (this.stopped) return;
        this.period.watchErrors++;
        this.period.of('snapshot').fail(error);
        revision = undefined;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }
}

/** Rates per second of the open-loop kinds. */
interface Rates {
  poll: number;
  request: number;
  usage: number;
}

/** How long the calls of a period may still take after its end; later ones are failures. */
const DRAIN_MS = 10_000;

/**
 * Sends the calls of `rates` for `seconds`, each at its planned time, recording into `period`;
 * resolves once every call sent has its answer, or failed for having none DRAIN_MS after the end.
 * Polls visit the nodes in a fixed spread order.
 */
async function openLoop(cloud: Cloud, rates: Rates, seconds: number, period: Period): Promise<void> {
  const start = performance.now();
  const end = start + seconds * 1000;
  const sent = { poll: 0, request: 0, usage: 0 };
  const inFlight = new Set<Promise<void>>();
  const abort = abortController();
  const nodeStride = 7919; // prime: successive polls land on nodes far apart
  const fire = (kind: keyof Rates, planned: number, call: (signal: AbortSignal) => Promise<void>): void => {
    const figures = period.of(kind);
    const promise = call(abort.signal).then(
      () => figures.record(performance.now() - planned),
      (error: unknown) =>
        figures.fail(
          abort.signal.aborted ? new Error(`no answer ${DRAIN_MS / 1000} s after the period's end`) : error,
        ),
    );
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };
  let pollIndex = Math.floor(Math.random() * cloud.shape.nodes);
  while (performance.now() < end) {
    const now = Math.min(performance.now(), end);
    for (const kind of ['poll', 'request', 'usage'] as const) {
      const due = Math.floor(((now - start) / 1000) * rates[kind]);
      while (sent[kind] < due) {
        const planned = start + (sent[kind] / rates[kind]) * 1000;
        sent[kind]++;
        if (kind === 'poll') {
          const node = (pollIndex = (pollIndex + nodeStride) % cloud.shape.nodes);
          fire(kind, planned, (signal) => cloud.poll(node, signal));
        } else if (kind === 'request') fire(kind, planned, (signal) => cloud.request(signal));
        else fire(kind, planned, (signal) => cloud.usage(signal));
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const drained = Promise.allSettled([...inFlight]);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
  clearTimeout(timer);
  abort.abort();
  await drained;
}

function row(kind: string, figures: Figures, seconds: number): string {
  const sorted = [...figures.latencies].sort((a, b) => a - b);
  const ms = (value: number): string => (Number.isNaN(value) ? '-' : value.toFixed(2)).padStart(8);
  return [
    kind.padEnd(9),
    String(sorted.length).padStart(8),
    (sorted.length / seconds).toFixed(1).padStart(8),
    ms(percentile(sorted, 0.5)),
    ms(percentile(sorted, 0.99)),
    ms(sorted.at(-1) ?? NaN),
    String(figures.errors).padStart(7),
  ].join(' ');
}

const TABLE_HEADER = 'kind         calls  calls/s   p50 ms   p99 ms   max ms  errors';

function printPeriod(period: Period, seconds: number): void {
  process.stdout.write(`${TABLE_HEADER}\n`);
  for (const kind of KINDS) process.stdout.write(`${row(kind, period.of(kind), seconds)}\n`);
  process.stdout.write(
    `watch answers ${period.watches} (${(period.watches / seconds).toFixed(1)}/s), watch errors ${period.watchErrors}\n`,
  );
  printErrors(period);
}

function printErrors(period: Period): void {
  for (const kind of KINDS) {
    const { firstError } = period.of(kind);
    if (firstError !== undefined) process.stdout.write(`first ${kind} error: ${firstError}\n`);
  }
}

/** Samples the master's resident memory every 500 ms: the highest since the last reset. */
class MemoryWatch {
  highest = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number | undefined) {
    this.timer = setInterval(() => this.sample(), 500);
  }

  sample(): number {
    const mb = rssMb(this.pid);
    if (mb > this.highest) this.highest = mb;
    return mb;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The database of `shape`: copied from the cache when it holds one, else loaded (and cached). */
async function prepareDatabase(directory: string, options: Options): Promise<string> {
  const path = join(directory, 'proxy.db');
  const name = `cloud-${options.nodes}x${options.partitions}-${options.instances}.db`;
  const cached = options.cache === undefined ? undefined : join(options.cache, name);
  if (cached !== undefined && (await stat(cached).catch(() => undefined))) {
    const started = performance.now();
    await copyFile(cached, path);
    process.stdout.write(
      `database copied from ${cached} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return path;
  }
  const started = performance.now();
  await loadCloud(path, options);
  const size = (await stat(path)).size / 1e6;
  process.stdout.write(
    `bulk load (not timed in the figures): ${options.nodes} compute nodes × ${options.partitions} partitions ` +
      `(${options.nodes * options.partitions} partitions, ${2 * options.nodes * options.partitions} addresses), ` +
      `${options.instances} instances in ${((performance.now() - started) / 1000).toFixed(1)} s, ${size.toFixed(0)} MB\n`,
  );
  if (cached !== undefined && options.cache !== undefined) {
    await mkdir(options.cache, { recursive: true });
    await copyFile(path, cached);
  }
  return path;
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

function positive(args: string[], name: string, fallback: number): number {
  const text = option(args, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} wants a positive number, not ${text}`);
  return value;
}

function parseOptions(args: string[]): Options {
  const whole = (name: string, fallback: number): number => Math.round(positive(args, name, fallback));
  return {
    nodes: whole('--nodes', 10_000),
    partitions: whole('--partitions', 100),
    instances: whole('--instances', 200_000),
    seconds: positive(args, '--seconds', 60),
    watchers: args.includes('--watchers') ? Math.round(Number(option(args, '--watchers'))) : 2000,
    requestRate: positive(args, '--requests', 50),
    usageRate: positive(args, '--usage', 100),
    pollPeriodSeconds: positive(args, '--poll-period', 60),
    rampStepSeconds: positive(args, '--ramp-step-seconds', 10),
    rampFactor: positive(args, '--ramp-factor', 1.5),
    rampStart: positive(args, '--ramp-start', 0.25),
    ramp: !args.includes('--no-ramp'),
    cache: option(args, '--cache'),
  };
}

function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  if (options.watchers < 0 || options.watchers > options.nodes || !Number.isInteger(options.watchers))
    throw new Error(`--watchers wants a whole number from 0 to --nodes (${options.nodes})`);
  await build();
  const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-scale-'));
  let server: Server | undefined;
  const pool = { calls: undefined as Pool | undefined, watch: undefined as Pool | undefined };
  // Interrupted (run.ts forwards the signal): the master and the copied database go too.
  const interrupted = (): void => {
    void (server?.stop() ?? Promise.resolve())
      .then(() => rm(directory, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const databasePath = await prepareDatabase(directory, options);
    const startedAt = performance.now();
    server = await startProxyMode(
      databasePath,
      (process.env.MASTER_NODE_ARGS ?? '').split(' ').filter(Boolean),
      ['--max-connections', String(options.watchers + 1024)],
    );
    const pid = server.child.pid;
    process.stdout.write(
      `master started in ${((performance.now() - startedAt) / 1000).toFixed(2)} s on the loaded database, ` +
        `RSS ${rssMb(pid).toFixed(0)} MB; ${cpus().length} CPUs, load average ${loadAverage()}\n`,
    );
    const timeouts = { headersTimeout: 60_000, bodyTimeout: 60_000, keepAliveTimeout: 4_000 };
    pool.calls = new Pool(server.url, { connections: 256, pipelining: 1, ...timeouts });
    pool.watch = new Pool(server.url, { connections: options.watchers + 16, pipelining: 1, ...timeouts });
    const cloud = new Cloud(options, pool.calls);
    const memory = new MemoryWatch(pid);
    const rates: Rates = {
      poll: options.nodes / options.pollPeriodSeconds,
      request: options.requestRate,
      usage: options.usageRate,
    };
    const total = (scale: number): number => (rates.poll + rates.request + rates.usage) * scale;

    // Warm-up: the watchers start one after another (their first snapshots), while a tenth of the
    // steady rates runs.
    const warmup = new Period();
    const watchers = new Watchers(cloud, pool.watch, options.watchers, warmup);
    watchers.start(WARMUP_SECONDS * 800);
    await openLoop(
      cloud,
      { poll: rates.poll / 10, request: rates.request / 10, usage: rates.usage / 10 },
      WARMUP_SECONDS,
      warmup,
    );
    process.stdout.write(
      `warm-up: ${options.watchers} watchers connected (${warmup.of('snapshot').latencies.length} snapshots), ` +
        `errors ${warmup.errors()}, master RSS ${memory.sample().toFixed(0)} MB\n`,
    );
    printErrors(warmup);

    const steady = new Period();
    watchers.period = steady;
    memory.highest = 0;
    const cpuBefore = { master: cpuSeconds(pid), bench: process.cpuUsage() };
    await openLoop(cloud, rates, options.seconds, steady);
    const masterCpu = cpuSeconds(pid) - cpuBefore.master;
    const benchUsage = process.cpuUsage(cpuBefore.bench);
    const benchCpu = (benchUsage.user + benchUsage.system) / 1e6;
    process.stdout.write(
      `\nsteady state, ${options.seconds} s: ${options.nodes} nodes polling every ${options.pollPeriodSeconds} s ` +
        `(${rates.poll.toFixed(0)}/s), ${rates.request} requests/s, ${rates.usage} usage reports/s, ` +
        `${options.watchers} watchers (total ${total(1).toFixed(0)} calls/s besides the watchers')\n`,
    );
    printPeriod(steady, options.seconds);
    process.stdout.write(
      `master RSS: highest ${memory.highest.toFixed(0)} MB, now ${memory.sample().toFixed(0)} MB (goal < 300 MB); ` +
        `master CPU ${((100 * masterCpu) / options.seconds).toFixed(0)}% of a core, ` +
        `load generator ${((100 * benchCpu) / options.seconds).toFixed(0)}%; load average ${loadAverage()}\n`,
    );
    // On a shared machine the latencies count the time the master waited for a core; its CPU time per
    // call does not: what one core would serve of this mix.
    const calls = steady.calls();
    process.stdout.write(
      `master CPU per call (all ${calls} calls and watch answers): ${((masterCpu / calls) * 1e6).toFixed(0)} µs, ` +
        `so one core would serve about ${(calls / masterCpu).toFixed(0)} calls/s of this mix\n`,
    );
    const worst = steady.worstP99();
    process.stdout.write(
      `goals: p99 < 20 ms for every call: ${worst < 20 ? 'met' : 'NOT met'} (worst ${worst.toFixed(2)} ms); ` +
        `no error: ${steady.errors() === 0 ? 'met' : `NOT met (${steady.errors()})`}; ` +
        `master < 300 MB: ${memory.highest < 300 ? 'met' : 'NOT met'}\n`,
    );

    if (options.ramp) {
      process.stdout.write(
        `\nramp: the mix ×${options.rampStart} first, then ×${options.rampFactor} every ${options.rampStepSeconds} s ` +
          `(watchers unchanged) until a p99 passes ${P99_LIMIT_MS} ms\n` +
          `  scale  calls/s  worst p99 ms  errors  master RSS MB\n`,
      );
      let scale = options.rampStart;
      let sustainable: number | undefined;
      for (let step = 0; step < 20; step++) {
        const period = new Period();
        watchers.period = period;
        memory.highest = 0;
        await openLoop(
          cloud,
          { poll: rates.poll * scale, request: rates.request * scale, usage: rates.usage * scale },
          options.rampStepSeconds,
          period,
        );
        const p99 = period.worstP99();
        process.stdout.write(
          `  ${scale.toFixed(2).padStart(5)} ${total(scale).toFixed(0).padStart(8)} ${p99.toFixed(2).padStart(13)} ` +
            `${String(period.errors()).padStart(7)} ${memory.highest.toFixed(0).padStart(14)}\n`,
        );
        if (p99 > P99_LIMIT_MS || period.errors() > 0) break;
        sustainable = total(scale);
        scale *= options.rampFactor;
      }
      process.stdout.write(
        `sustainable rate (p99 ≤ ${P99_LIMIT_MS} ms, no error): ` +
          `${sustainable === undefined ? 'below the first step' : `${sustainable.toFixed(0)} calls/s`} ` +
          `(polls, requests and usage reports in the steady mix's proportions, besides ${options.watchers} watchers)\n`,
      );
    }
    memory.stop();
    await watchers.stop();
  } finally {
    await pool.calls?.close();
    await pool.watch?.destroy();
    await server?.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

await main(process.argv.slice(2));
