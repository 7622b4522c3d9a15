/**
 * A standalone SlapOS for end-to-end tests: real processes (`slapos standalone start` run as a
 * command, the master, the supervisor and the node agent in the background) in a short temporary
 * directory, on 127.0.0.1. Agent timings can be shortened through slapos.cfg before it starts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { MasterClient } from '../client/master-client.ts';
import type { Instance } from '../client/types.ts';
import { createMasterClient } from '../client/master-api.ts';
import { readAccessTokenFile } from '../lib/access-token.ts';
import { execFile, type ExecResult } from '../lib/exec.ts';
import { slaposBinPath } from '../lib/package-root.ts';
import type { AgentStatus } from '../node/agent/agent.ts';
import { readAgentStatus } from '../node/agent/settings.ts';
import { ensureStandaloneConfig } from '../standalone/config-file.ts';
import { DEFAULT_PARTITIONS, standaloneLayout, type StandaloneLayout } from '../standalone/layout.ts';
import { waitFor } from './supervisor.ts';

export interface TestStandalone {
  dir: string;
  layout: StandaloneLayout;
  masterUrl: string;
  computerGuid: string;
  client: MasterClient;
  /** Runs `slapos <args>` as a process (60 s deadline). */
  slapos(args: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** The agent's status file (undefined while there is none). */
  agentStatus(): Promise<AgentStatus | undefined>;
  pids(): Promise<{ master: number; supervisor: number; agent: number }>;
  close(): Promise<void>;
}

/** Runs the `slapos` command as a separate process. */
export function runSlaposProcess(
  args: readonly string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ExecResult> {
  return execFile(process.execPath, [slaposBinPath(), ...args], {
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.env ? { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env } } : {}),
  });
}

/** A short temporary directory (the supervisor's socket path must stay under 108 bytes). */
export function shortTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Writes the standalone's slapos.cfg beforehand, with these `[slapos]` options added (agent timings…)
 * and these other sections appended (`[backup]`…).
 */
export async function prepareStandalone(
  dir: string,
  options: {
    partitions?: number;
    slapos?: Record<string, string | number>;
    sections?: Record<string, Record<string, string | number>>;
  } = {},
): Promise<void> {
  const layout = standaloneLayout(dir);
  await ensureStandaloneConfig(layout, {
    partitions: options.partitions,
    defaultPartitions: DEFAULT_PARTITIONS,
  });
  const lines = (options: Record<string, string | number>): string =>
    Object.entries(options)
      .map(([key, value]) => `${key} = ${value}\n`)
      .join('');
  const extra = lines(options.slapos ?? {});
  const sections = Object.entries(options.sections ?? {})
    .map(([name, values]) => `\n[${name}]\n${lines(values)}`)
    .join('');
  if (extra === '' && sections === '') return;
  const text = await readFile(layout.config, 'utf8');
  await writeFile(layout.config, `${text.replace('[slapos]\n', `[slapos]\n${extra}`)}${sections}`);
}

export async function startTestStandalone(
  options: {
    partitions?: number;
    slapos?: Record<string, string | number>;
    sections?: Record<string, Record<string, string | number>>;
    prefix?: string;
  } = {},
): Promise<TestStandalone> {
  const dir = await shortTempDir(options.prefix ?? 'sa-');
  const layout = standaloneLayout(dir);
  const slapos = (args: readonly string[], call: { timeoutMs?: number } = {}): Promise<ExecResult> =>
    runSlaposProcess(args, call);
  const stop = async (): Promise<void> => {
    await slapos(['standalone', 'stop', '--dir', dir], { timeoutMs: 120_000 });
  };
  try {
    await prepareStandalone(dir, options);
    const started = await slapos(['standalone', 'start', '--dir', dir, '--json']);
    if (started.exitCode !== 0) throw new Error(`standalone start failed: ${started.stderr}`);
    const info = JSON.parse(started.stdout) as { master_url: string; computer_guid: string };
    const client = createMasterClient({
      api: 'json',
      masterUrl: info.master_url,
      accessToken: await readAccessTokenFile(layout.tokenFile),
    });
    return {
      dir,
      layout,
      masterUrl: info.master_url,
      computerGuid: info.computer_guid,
      client,
      slapos,
      agentStatus: () => readAgentStatus(layout.agentStatusFile),
      async pids() {
        const status = await slapos(['standalone', 'status', '--dir', dir, '--json']);
        const parsed = JSON.parse(status.stdout) as {
          master: { pid: number };
          supervisor: { pid: number };
          agent: { pid: number };
        };
        return { master: parsed.master.pid, supervisor: parsed.supervisor.pid, agent: parsed.agent.pid };
      },
      async close() {
        await client.close();
        await stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** GETs `url` until it answers 200 with `expected` (a string or a pattern), within `timeoutMs`. */
export function waitForAnswer(url: string, expected: string | RegExp, timeoutMs = 60_000): Promise<string> {
  return waitFor(
    `${url} answering ${String(expected)}`,
    async () => {
      try {
        const response = await request(url, { signal: AbortSignal.timeout(2000) });
        const text = (await response.body.text()).trim();
        if (response.statusCode !== 200) return undefined;
        return (typeof expected === 'string' ? text === expected : expected.test(text)) ? text : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** The connection parameters of an instance once `key` is published (and matches `expected`). */
export function waitForConnection(
  client: MasterClient,
  instanceGuid: string,
  key: string,
  options: { expected?: string | RegExp; timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  return waitForPublication(instanceGuid, () => client.getInstance(instanceGuid), key, options);
}

/**
 * The connection parameters of the instance `read` gives (`label` names it in a timeout) once `key`
 * is published (and matches `expected`); a read that fails or finds nothing is tried again.
 */
export function waitForPublication(
  label: string,
  read: () => Promise<Pick<Instance, 'connection_parameters'> | undefined>,
  key: string,
  options: { expected?: string | RegExp; timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  return waitFor(
    `${label} publishing ${key}`,
    async () => {
      const instance = await read().catch(() => undefined);
      const value = instance?.connection_parameters[key];
      if (typeof value !== 'string') return undefined;
      const { expected } = options;
      if (
        expected !== undefined &&
        !(typeof expected === 'string' ? value === expected : expected.test(value))
      )
        return undefined;
      return instance?.connection_parameters;
    },
    { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 50 },
  );
}
