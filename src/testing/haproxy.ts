/**
 * Debian's haproxy in front of several masters, for tests and benchmarks, on loopback only: the
 * configuration (HTTP mode, round robin, health checks, retries on another master when one is gone)
 * written in a directory, haproxy run in the foreground as a child process, and its admin socket
 * read for the state haproxy gives each master. docs/operations.md shows the same configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { EXTENSION_SPEC_URL_PATH } from '../api/index.ts';
import { waitFor } from './supervisor.ts';

/** Where Debian installs haproxy. */
export const HAPROXY = '/usr/sbin/haproxy';

/** The name of haproxy's backend of masters (as `show stat` names it). */
export const BACKEND = 'masters';

export interface HaproxyServer {
  name: string;
  host: string;
  port: number;
}

export interface HaproxyConfigOptions {
  /** Where haproxy listens (loopback in tests). */
  bind: { host: string; port: number };
  servers: readonly HaproxyServer[];
  /** The admin socket (`show stat`), if any. */
  adminSocket?: string;
}

/** `host:port`, with brackets around an IPv6 address. */
function endpoint(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * haproxy's configuration for masters that share one database. The health check is a HEAD of a
 * static document of the master (no database involved): a master whose database is down stays in
 * the pool and answers 503 with the API error body itself, instead of haproxy answering its own HTML
 * page. A request that reached no master (connection refused) or that a master dropped without an
 * answer (killed) is sent again to another one: every JSON API call sets a state by name (the
 * instance of a title, the state of a partition), so one done twice leaves what one leaves.
 * `timeout server` is above the change stream's longest long poll (50 s).
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  if (options.servers.length === 0) throw new Error('haproxy needs at least one master');
  return [
    'global',
    '  maxconn 4096',
    ...(options.adminSocket === undefined
      ? []
      : [`  stats socket ${options.adminSocket} mode 600 level admin`]),
    '',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 1s',
    '  timeout client 65s',
    '  timeout server 65s',
    '  timeout http-request 10s',
    '  timeout queue 5s',
    '  timeout check 2s',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    '',
    'frontend slapos-master',
    `  bind ${endpoint(options.bind.host, options.bind.port)}`,
    `  default_backend ${BACKEND}`,
    '',
    `backend ${BACKEND}`,
    '  balance roundrobin',
    '  option httpchk',
    `  http-check send meth HEAD uri ${EXTENSION_SPEC_URL_PATH}`,
    '  http-check expect status 200',
    '  default-server check inter 500ms fall 2 rise 2',
    ...options.servers.map((server) => `  server ${server.name} ${endpoint(server.host, server.port)}`),
    '',
  ].join('\n');
}

/** A port of 127.0.0.1 free a moment ago (haproxy cannot tell which port it took for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export interface RunningHaproxy {
  /** `http://127.0.0.1:PORT`: the masters' one URL. */
  url: string;
  configFile: string;
  /** haproxy's process id. */
  pid: number;
  /** haproxy's own output (its alerts and warnings). */
  output(): string;
  /** The state haproxy gives each master (`UP`, `DOWN`, `UP 1/2`…), by server name. */
  serverStates(): Promise<Record<string, string>>;
  /** Waits until haproxy gives every named master this state (`UP` or `DOWN`). */
  waitForStates(names: readonly string[], state: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Sends one command to haproxy's admin socket and returns its whole answer. */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const connection = createConnection(socket);
    const chunks: Buffer[] = [];
    connection.setTimeout(5000, () =>
      connection.destroy(new Error(`haproxy admin socket: no answer to ${command}`)),
    );
    connection.on('data', (chunk: Buffer) => chunks.push(chunk));
    connection.on('error', reject);
    connection.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    connection.end(`${command}\n`);
  });
}

/** `show stat` CSV → the status of each server of the backend. */
export function parseServerStates(csv: string, backend = BACKEND): Record<string, string> {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const [proxy, server, status] = ['pxname', 'svname', 'status'].map((name) => header.indexOf(name));
  if (proxy === undefined || server === undefined || status === undefined || status < 0)
    throw new Error(`unexpected haproxy stats: ${lines[0] ?? '(empty)'}`);
  const states: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const fields = line.split(',');
    const name = fields[server] ?? '';
    if (fields[proxy] !== backend || name === 'BACKEND' || name === 'FRONTEND') continue;
    states[name] = fields[status] ?? '';
  }
  return states;
}

async function startOnce(dir: string, servers: readonly HaproxyServer[]): Promise<RunningHaproxy> {
  const port = await freePort();
  const adminSocket = join(dir, 'haproxy-admin.sock');
  const configFile = join(dir, 'haproxy.cfg');
  await writeFile(configFile, haproxyConfig({ bind: { host: '127.0.0.1', port }, servers, adminSocket }), {
    mode: 0o600,
  });
  // -db: in the foreground, not daemonised; -W off: one process, killed with the test.
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', configFile], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = String(code ?? signal);
      resolve();
    });
    child.once('error', (error) => {
      exit = error.message;
      resolve();
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const serverStates = async (): Promise<Record<string, string>> =>
    parseServerStates(await adminCommand(adminSocket, 'show stat'));
  const close = async (): Promise<void> => {
    if (exit === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    await waitFor(
      'haproxy to listen',
      async () => {
        if (exit !== undefined) throw new Error(`haproxy exited (${exit}): ${output}`);
        return serverStates().then(
          () => true,
          () => false,
        );
      },
      { timeoutMs: 20_000 },
    );
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url,
    configFile,
    pid: child.pid ?? 0,
    output: () => output,
    serverStates,
    async waitForStates(names, state, timeoutMs = 30_000) {
      await waitFor(
        `haproxy to see ${names.join(', ')} ${state}`,
        async () => {
          const states = await serverStates();
          return names.every((name) => states[name] === state);
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    close,
  };
}

/**
 * Starts haproxy in front of `servers` (listening on a free port of 127.0.0.1, configuration and
 * admin socket in `dir`) and waits until every server is UP. A port taken between its choice and
 * haproxy's bind is chosen again.
 */
export async function startHaproxy(dir: string, servers: readonly HaproxyServer[]): Promise<RunningHaproxy> {
  for (let attempt = 1; ; attempt++) {
    let started: RunningHaproxy;
    try {
      started = await startOnce(dir, servers);
    } catch (error) {
      if (attempt < 5 && error instanceof Error && /cannot bind|Address already in use/i.test(error.message))
        continue;
      throw error;
    }
    try {
      await started.waitForStates(
        servers.map((server) => server.name),
        'UP',
      );
    } catch (error) {
      await started.close();
      throw error;
    }
    return started;
  }
}
