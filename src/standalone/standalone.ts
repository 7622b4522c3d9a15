/**
 * The standalone SlapOS: a master (proxy mode, SQLite), the node's supervisor and the node agent,
 * all in one directory, in the background (docs/standalone.md). `startStandalone` returns once all
 * three answer; it is idempotent (what runs is left alone, what is missing is started).
 * `stopStandalone` stops the agent, the supervisor with every service, then the master.
 * `standaloneStatus` says what runs, with the master's URL and the compute node's id.
 *
 * The master requires the standalone's local secret (etc/master.token, also `master_token` in
 * etc/slapos.cfg, which the agent and `--cfg` clients read): another user of the machine cannot
 * drive it. A master left running by a version without the token is restarted with it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMasterClient } from '../client/master-api.ts';
import { SlapError } from '../core/errors.ts';
import { readAccessTokenFile } from '../lib/access-token.ts';
import { slaposBinPath } from '../lib/package-root.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { AgentStatus } from '../node/agent/agent.ts';
import { readAgentStatus } from '../node/agent/settings.ts';
import { loadNodeConfig } from '../node/config.ts';
import { formatComputeNode } from '../node/format/format.ts';
import { masterRegistrar } from '../node/master.ts';
import { connectSupervisor } from '../node/node-supervisor.ts';
import { SupervisorClient } from '../node/supervisor/client.ts';
import {
  ensureCacheSignature,
  ensureStandaloneConfig,
  standaloneCacheUrl,
  portTaken,
  portTakenError,
  readStandaloneConfig,
  type EnsuredStandaloneConfig,
} from './config-file.ts';
import { checkSocketPath, DEFAULT_PARTITIONS, standaloneLayout, type StandaloneLayout } from './layout.ts';
import { livePid, spawnDetached, terminate, waitUntilReady, writePidFile } from './processes.ts';

export type StandaloneStep =
  | { step: 'root'; dir: string }
  | { step: 'config'; path: string; created: boolean; tokenAdded: boolean }
  | { step: 'master'; url: string; pid: number; alreadyRunning: boolean }
  | { step: 'cache'; url: string; pid: number; alreadyRunning: boolean }
  | { step: 'supervisor'; pid: number; alreadyRunning: boolean }
  | { step: 'format'; partitions: number }
  | { step: 'agent'; pid: number; alreadyRunning: boolean };

export interface StartStandaloneOptions {
  /** Number of partitions (default 10 for a new standalone; can only grow). */
  partitions?: number;
  logger?: Logger;
  onStep?: (step: StandaloneStep) => void;
  /** How long each process may take to come up (default 30 s). */
  timeoutMs?: number;
  /** Extra node options of the agent process (memory tuning). */
  agentNodeOptions?: readonly string[];
  /** Whether this process runs as root (default: its uid is 0); its services would too: warned. */
  runningAsRoot?: boolean;
}

export interface StandaloneInfo {
  dir: string;
  /** slapos.cfg of the standalone, also the client configuration of its master (holds the token). */
  config: string;
  /** The file holding just the master's access token. */
  tokenFile: string;
  masterUrl: string;
  computerGuid: string;
  partitions: number;
  /** True when master, supervisor and agent were all running already. */
  alreadyRunning: boolean;
  /** The binary cache server's base URL (`/shacache`, `/shadir`), unless `[networkcache]` points elsewhere. */
  cacheUrl: string | undefined;
  pids: { master: number; supervisor: number; agent: number; cache: number | undefined };
}

/**
 * Node flags of the long-lived agent, for its idle memory (bench/converge.ts): a small young
 * generation, and no optimising compilers (its work waits on I/O; about 10 MB less, no slower on
 * examples/hello). V8's lite mode would save as much but disables WebAssembly, which undici needs.
 */
export const AGENT_NODE_OPTIONS = ['--max-semi-space-size=1', '--no-opt', '--no-sparkplug'];

/**
 * The agent's lean entry point (the same as `slapos node run`, without the rest of the CLI loaded),
 * with the node arguments to run it (TypeScript sources, as benchmarks run them, need tsx).
 */
function agentEntry(): string[] {
  const self = fileURLToPath(import.meta.url);
  const script = fileURLToPath(new URL(`../node/agent/agent-main${extname(self)}`, import.meta.url));
  return script.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), script] : [script];
}

async function masterAnswers(url: string, accessToken: string | undefined): Promise<boolean> {
  const client = createMasterClient({
    api: 'json',
    masterUrl: url,
    timeoutMs: 2000,
    connectTimeoutMs: 1000,
    ...(accessToken === undefined ? {} : { accessToken }),
  });
  try {
    await client.getHateoasUrl();
    return true;
  } catch {
    return false;
  } finally {
    await client.close();
  }
}

async function cacheAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts the binary cache server when it is not running (it needs no master: started first, it
 * comes up while the master does). Undefined when the node's `[networkcache]` points elsewhere.
 */
async function startCache(
  layout: StandaloneLayout,
  settings: EnsuredStandaloneConfig,
  started: (() => Promise<unknown>)[],
  timeoutMs: number,
): Promise<(StandaloneStep & { step: 'cache' }) | undefined> {
  if (settings.cachePort === undefined) return undefined;
  const url = standaloneCacheUrl(settings.cachePort);
  const pid = await livePid(layout.cachePidFile);
  if (pid !== undefined && (await cacheAnswers(url)))
    return { step: 'cache', url, pid, alreadyRunning: true };
  if (pid !== undefined) await terminate(pid, 10_000);
  if (await portTaken(settings.cachePort)) throw cachePortTakenError(layout, settings.cachePort);
  const child = await spawnDetached(
    [slaposBinPath(), 'cache', 'start', '--dir', layout.cacheDir, '--port', String(settings.cachePort)],
    { logFile: layout.cacheLog, cwd: layout.dir },
  );
  started.push(async () => {
    await terminate(child.pid, 10_000);
    await rm(layout.cachePidFile, { force: true });
  });
  await writePidFile(layout.cachePidFile, child.pid);
  await waitUntilReady('the binary cache server', child, {
    ready: () => cacheAnswers(url),
    timeoutMs,
    logFile: layout.cacheLog,
  });
  return { step: 'cache', url, pid: child.pid, alreadyRunning: false };
}

function cachePortTakenError(layout: StandaloneLayout, port: number): SlapError {
  return new SlapError(
    'SLAP_ERR_LISTEN_FAILED',
    `the standalone's binary cache server cannot listen on 127.0.0.1:${port}: another program uses that port`,
    {
      hint: `stop that program, or change the port of the four *-binary-*-url options under [networkcache] in ${layout.config}`,
    },
  );
}

/** The master's state: down, `secured` (answers only with the token) or `open` (started without it). */
async function masterState(url: string, accessToken: string): Promise<'down' | 'secured' | 'open'> {
  if (!(await masterAnswers(url, accessToken))) return 'down';
  return (await masterAnswers(url, undefined)) ? 'open' : 'secured';
}

/**
 * Starts what is not running yet of the master, the supervisor and the agent (formatting the
 * partitions on the way) and returns once all three answer. On failure, what this call started is
 * stopped again.
 */
export async function startStandalone(
  dir: string,
  options: StartStandaloneOptions = {},
): Promise<StandaloneInfo> {
  const layout = standaloneLayout(dir);
  const step = options.onStep ?? (() => undefined);
  if (options.runningAsRoot ?? process.getuid?.() === 0) step({ step: 'root', dir: layout.dir });
  checkSocketPath(layout);
  const existed = (await readStandaloneConfig(layout)) !== undefined;
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  const settings = await ensureStandaloneConfig(layout, {
    partitions: options.partitions,
    defaultPartitions: DEFAULT_PARTITIONS,
  });
  step({
    step: 'config',
    path: layout.config,
    created: !existed,
    tokenAdded: settings.tokenAdded && existed,
  });
  const masterUrl = `http://127.0.0.1:${settings.port}`;
  // What this call started, stopped again (newest first) if a later step fails: a failed start
  // leaves running only what was running before it.
  const started: (() => Promise<unknown>)[] = [];
  try {
    return await startComponents(layout, settings, masterUrl, started, options);
  } catch (error) {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

/** Starts the master unless it runs with the standalone's token (one started without it is restarted). */
async function startMaster(
  layout: StandaloneLayout,
  settings: EnsuredStandaloneConfig,
  masterUrl: string,
  started: (() => Promise<unknown>)[],
  timeoutMs: number,
): Promise<{ pid: number; alreadyRunning: boolean }> {
  const { accessToken } = settings;
  const pid = await livePid(layout.masterPidFile);
  if (pid !== undefined && (await masterState(masterUrl, accessToken)) === 'secured')
    return { pid, alreadyRunning: true };
  if (pid !== undefined) await terminate(pid, 10_000);
  if (await portTaken(settings.port)) throw portTakenError(layout, settings.port);
  const child = await spawnDetached(
    [slaposBinPath(), 'proxy', 'start', '--cfg', layout.config, '--token-file', layout.tokenFile],
    { logFile: layout.masterLog, cwd: layout.dir },
  );
  started.push(async () => {
    await terminate(child.pid, 10_000);
    await rm(layout.masterPidFile, { force: true });
  });
  await writePidFile(layout.masterPidFile, child.pid);
  await waitUntilReady('the master', child, {
    ready: () => masterAnswers(masterUrl, accessToken),
    timeoutMs,
    logFile: layout.masterLog,
  });
  return { pid: child.pid, alreadyRunning: false };
}

async function startComponents(
  layout: StandaloneLayout,
  settings: EnsuredStandaloneConfig,
  masterUrl: string,
  started: (() => Promise<unknown>)[],
  options: StartStandaloneOptions,
): Promise<StandaloneInfo> {
  const logger = options.logger ?? silentLogger();
  const step = options.onStep ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 30_000;

  const { accessToken } = settings;
  // The cache server comes up, and the node's signing key is made (once), while the master comes
  // up; the node's configuration is read once all three are done.
  const cache = startCache(layout, settings, started, timeoutMs);
  const signature = ensureCacheSignature(layout);
  // The master (one started before the standalone had a token is restarted with it). If it fails,
  // the cache's start is let finish first, so that the rollback stops it too.
  const master = startMaster(layout, settings, masterUrl, started, timeoutMs);
  const settled = await Promise.allSettled([master, cache, signature]);
  const failed = settled.find((outcome) => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  const { pid: masterPid, alreadyRunning: masterWasRunning } = await master;
  step({ step: 'master', url: masterUrl, pid: masterPid, alreadyRunning: masterWasRunning });
  const cacheStep = await cache;
  if (cacheStep !== undefined) step(cacheStep);

  const config = await loadNodeConfig({ cfg: layout.config, isRoot: false });

  // The supervisor (with the watchdog as its exit notifier).
  const supervisorWasRunning = await supervisorAnswers(layout);
  const { client: supervisor } = await connectSupervisor(config, { timeoutMs });
  const supervisorPid = (await supervisor.status()).pid;
  if (!supervisorWasRunning) {
    // Nothing runs under it yet: the agent, which starts services, comes last.
    started.push(async () => {
      await supervisor.shutdown({ stopPrograms: true }).catch(() => undefined);
      await terminate(supervisorPid, 10_000);
    });
  }
  step({ step: 'supervisor', pid: supervisorPid, alreadyRunning: supervisorWasRunning });

  // The partitions, registered on the master (idempotent; cheap when nothing changes).
  const client = createMasterClient({ api: 'json', masterUrl, timeoutMs, accessToken });
  try {
    // Format's routine records are for -v; its warnings are always worth seeing.
    const formatLogger = logger.isLevelEnabled('debug') ? logger : logger.child({}, { level: 'warn' });
    const format = await formatComputeNode(config, {
      registrar: masterRegistrar(client),
      isRoot: false,
      logger: formatLogger,
    });
    if (format.postError !== undefined)
      throw new SlapError('SLAP_ERR_UNAVAILABLE', `the master refused the partitions: ${format.postError}`);
    step({ step: 'format', partitions: format.layout.partitions.length });
  } finally {
    await client.close();
  }

  // The node agent (one that read slapos.cfg before it had the token is restarted).
  let agentPid = await livePid(layout.agentPidFile);
  if (agentPid !== undefined && (settings.tokenAdded || settings.cacheAdded)) {
    await terminate(agentPid, 30_000);
    agentPid = undefined;
  }
  const agentWasRunning = agentPid !== undefined;
  if (!agentWasRunning) {
    await rm(layout.agentStatusFile, { force: true });
    const child = await spawnDetached(
      [...(options.agentNodeOptions ?? AGENT_NODE_OPTIONS), ...agentEntry(), '--cfg', layout.config],
      { logFile: layout.agentLog, cwd: layout.dir },
    );
    started.push(() => terminate(child.pid, 10_000));
    await waitUntilReady('the node agent', child, {
      ready: async () => {
        const status = await readAgentStatus(layout.agentStatusFile);
        return status?.pid === child.pid && (status.state === 'running' || status.state === 'offline');
      },
      timeoutMs,
      logFile: layout.agentLog,
    });
    agentPid = child.pid;
  }
  step({ step: 'agent', pid: agentPid as number, alreadyRunning: agentWasRunning });
  logger.debug({ dir: layout.dir, masterUrl }, 'standalone SlapOS running');
  return {
    dir: layout.dir,
    config: layout.config,
    tokenFile: layout.tokenFile,
    masterUrl,
    computerGuid: settings.computerId,
    partitions: settings.partitions,
    alreadyRunning:
      masterWasRunning && supervisorWasRunning && agentWasRunning && (cacheStep?.alreadyRunning ?? true),
    cacheUrl: cacheStep?.url,
    pids: {
      master: masterPid,
      supervisor: supervisorPid,
      agent: agentPid as number,
      cache: cacheStep?.pid,
    },
  };
}

async function supervisorAnswers(layout: StandaloneLayout): Promise<boolean> {
  return (await supervisorStatus(layout)) !== undefined;
}

async function supervisorStatus(
  layout: StandaloneLayout,
): Promise<{ pid: number; processes: number } | undefined> {
  const client = new SupervisorClient({ socketPath: layout.supervisor.socket, timeoutMs: 3000 });
  try {
    const status = await client.status();
    return { pid: status.pid, processes: status.processes.length };
  } catch {
    return undefined;
  }
}

export interface StopResult {
  agent: boolean;
  supervisor: boolean;
  master: boolean;
  cache: boolean;
}

/** Stops the agent, then the supervisor and every service, then the master. Says what was running. */
export async function stopStandalone(dir: string, options: { graceMs?: number } = {}): Promise<StopResult> {
  const layout = standaloneLayout(dir);
  const graceMs = options.graceMs ?? 20_000;
  const result: StopResult = { agent: false, supervisor: false, master: false, cache: false };
  const agentPid = await livePid(layout.agentPidFile);
  if (agentPid !== undefined) result.agent = await terminate(agentPid, graceMs);
  const supervisor = await supervisorStatus(layout);
  if (supervisor !== undefined) {
    const client = new SupervisorClient({ socketPath: layout.supervisor.socket, timeoutMs: graceMs });
    await client.shutdown({ stopPrograms: true }).catch(() => undefined);
    // It exits once its programs are stopped.
    const deadline = Date.now() + graceMs + 65_000;
    while ((await supervisorStatus(layout)) !== undefined && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await terminate(supervisor.pid, 5000);
    result.supervisor = true;
  }
  const masterPid = await livePid(layout.masterPidFile);
  if (masterPid !== undefined) result.master = await terminate(masterPid, graceMs);
  await rm(layout.masterPidFile, { force: true });
  // Last: the agent stopped above may have been uploading to it.
  const cachePid = await livePid(layout.cachePidFile);
  if (cachePid !== undefined) result.cache = await terminate(cachePid, graceMs);
  await rm(layout.cachePidFile, { force: true });
  return result;
}

export interface StandaloneStatus {
  dir: string;
  /** False when the directory holds no standalone configuration. */
  exists: boolean;
  /** True when master, supervisor and agent all run. */
  running: boolean;
  config: string;
  /** The configuration file for client commands (`--cfg`): it holds the master's URL and token. */
  client_config: string;
  /** The file holding just the master's access token. */
  token_file: string;
  master_url: string | null;
  computer_guid: string | null;
  partitions: number | null;
  master: { pid: number | null; running: boolean; log: string };
  /** The binary cache server (url null when the node's `[networkcache]` points elsewhere). */
  cache: { pid: number | null; running: boolean; url: string | null; log: string };
  supervisor: { pid: number | null; running: boolean; socket: string; processes: number };
  agent: {
    pid: number | null;
    running: boolean;
    log: string;
    state: AgentStatus['state'] | null;
    revision: number | null;
    software: AgentStatus['software'];
    partitions: AgentStatus['partitions'];
    /** Rebuilds and redeployments after edits of local software releases (developing one). */
    local_changes: AgentStatus['localChanges'];
  };
}

export async function standaloneStatus(dir: string): Promise<StandaloneStatus> {
  const layout = standaloneLayout(dir);
  const settings = await readStandaloneConfig(layout).catch(() => undefined);
  const masterUrl = settings ? `http://127.0.0.1:${settings.port}` : null;
  const masterPid = (await livePid(layout.masterPidFile)) ?? null;
  const accessToken = await readAccessTokenFile(layout.tokenFile).catch(() => undefined);
  const masterRunning =
    masterPid !== null && masterUrl !== null && (await masterAnswers(masterUrl, accessToken));
  const cacheUrl = settings?.cachePort === undefined ? null : standaloneCacheUrl(settings.cachePort);
  const cachePid = (await livePid(layout.cachePidFile)) ?? null;
  const cacheRunning = cachePid !== null && cacheUrl !== null && (await cacheAnswers(cacheUrl));
  const supervisor = await supervisorStatus(layout);
  const agentPid = (await livePid(layout.agentPidFile)) ?? null;
  const agentStatus = agentPid === null ? undefined : await readAgentStatus(layout.agentStatusFile);
  const agentRunning = agentPid !== null && agentStatus?.pid === agentPid;
  return {
    dir: layout.dir,
    exists: settings !== undefined,
    running: masterRunning && supervisor !== undefined && agentRunning && (cacheUrl === null || cacheRunning),
    config: layout.config,
    client_config: layout.config,
    token_file: layout.tokenFile,
    master_url: masterUrl,
    computer_guid: settings?.computerId ?? null,
    partitions: settings?.partitions ?? null,
    master: { pid: masterPid, running: masterRunning, log: layout.masterLog },
    cache: { pid: cachePid, running: cacheRunning, url: cacheUrl, log: layout.cacheLog },
    supervisor: {
      pid: supervisor?.pid ?? null,
      running: supervisor !== undefined,
      socket: layout.supervisor.socket,
      processes: supervisor?.processes ?? 0,
    },
    agent: {
      pid: agentPid,
      running: agentRunning,
      log: layout.agentLog,
      state: agentRunning ? (agentStatus?.state ?? null) : null,
      revision: agentRunning ? (agentStatus?.revision ?? null) : null,
      software: agentRunning ? (agentStatus?.software ?? []) : [],
      partitions: agentRunning ? (agentStatus?.partitions ?? []) : [],
      // (An agent of an older version wrote no localChanges.)
      local_changes: agentRunning ? (agentStatus?.localChanges ?? []) : [],
    },
  };
}
