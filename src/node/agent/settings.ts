/**
 * The agent's settings: where it keeps its pid and status, and its timings, read from `[slapos]`
 * options of slapos.cfg (our additions, all optional, in seconds unless said otherwise; how many
 * partitions are processed at once is the node's `instance_concurrency`, config.ts):
 *
 * | option | default | |
 * |---|---|---|
 * | `agent_watch_timeout` | 30 | longest long poll of the change stream |
 * | `agent_poll_interval` | 10 | polling interval when the master has no change stream |
 * | `agent_anomaly_interval` | 60 | promise (anomaly) checks of up-to-date started partitions |
 * | `agent_report_interval` | 3600 | the report pass (also run right after destructions) |
 * | `agent_retry_delay` | 2 | first retry of a failed software release or partition, doubling… |
 * | `agent_retry_max_delay` | 600 | …up to this |
 * | `agent_promise_grace` | 10 | failing promises of just-started services are retried this long |
 * | `watch_local_software` | false (true in a standalone) | rebuild local software releases when their sources change, then redeploy their instances |
 * | `agent_source_scan_interval` | 5 | fallback scan of those sources (besides file system notifications) |
 * | `metrics_address` | none | `ADDRESS:PORT` (IPv6 in brackets) of the agent's Prometheus `/metrics` (metrics.ts); a loopback address unless… |
 * | `metrics_token_file` | none | …a file (0600, relative to slapos.cfg) holds the token every scrape must present |
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { isLoopbackHost } from '../../lib/loopback.ts';
import { parseBoolean, parseListenAddress, type NodeConfig } from '../config.ts';
import type { AgentStatus, NodeAgentOptions } from './agent.ts';

export interface AgentPaths {
  /** The running agent's pid (a pidfile lock). */
  pidFile: string;
  /** Its status as JSON (`AgentStatus`), rewritten as it changes. */
  statusFile: string;
  /** Its control channel (control.ts): node commands ask the running agent to do their pass. */
  controlSocket: string;
}

/** The status an agent wrote in `file`, or undefined when there is none (or it is being replaced). */
export async function readAgentStatus(file: string): Promise<AgentStatus | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}

export function agentPaths(instanceRoot: string): AgentPaths {
  return {
    pidFile: join(instanceRoot, 'var', 'run', 'slapos-node-run.pid'),
    statusFile: join(instanceRoot, 'var', 'run', 'slapos-node-run.json'),
    controlSocket: join(instanceRoot, 'var', 'run', 'slapos-node-run.sock'),
  };
}

type Timings = Pick<
  NodeAgentOptions,
  | 'watchTimeoutMs'
  | 'pollIntervalMs'
  | 'anomalyIntervalMs'
  | 'reportIntervalMs'
  | 'retry'
  | 'promiseGraceMs'
  | 'watchLocalSoftware'
  | 'sourceScanIntervalMs'
>;

function seconds(
  config: NodeConfig,
  name: string,
  options: { min: number; max?: number },
): number | undefined {
  const text = config.options[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text.trim());
  if (!Number.isFinite(value) || value < options.min || (options.max !== undefined && value > options.max))
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `${config.file}: [slapos] ${name} = ${text.trim()}: expected a number of seconds between ${options.min} and ${options.max ?? 'any'}`,
    );
  return value;
}

export function agentTimings(config: NodeConfig): Timings {
  const ms = (value: number | undefined): number | undefined =>
    value === undefined ? undefined : Math.round(value * 1000);
  const watch = ms(seconds(config, 'agent_watch_timeout', { min: 0.1, max: 50 }));
  const poll = ms(seconds(config, 'agent_poll_interval', { min: 0.1 }));
  const anomaly = ms(seconds(config, 'agent_anomaly_interval', { min: 0.1 }));
  const report = ms(seconds(config, 'agent_report_interval', { min: 1 }));
  const retryInitial = ms(seconds(config, 'agent_retry_delay', { min: 0.01 }));
  const retryMax = ms(seconds(config, 'agent_retry_max_delay', { min: 0.01 }));
  const grace = ms(seconds(config, 'agent_promise_grace', { min: 0 }));
  const scan = ms(seconds(config, 'agent_source_scan_interval', { min: 0.1 }));
  const watchLocal = watchLocalSoftware(config);
  const timings: Timings = {};
  if (watch !== undefined) timings.watchTimeoutMs = watch;
  if (poll !== undefined) timings.pollIntervalMs = poll;
  if (anomaly !== undefined) timings.anomalyIntervalMs = anomaly;
  if (report !== undefined) timings.reportIntervalMs = report;
  if (retryInitial !== undefined || retryMax !== undefined) {
    const initialMs = retryInitial ?? 2000;
    timings.retry = { initialMs, maxMs: Math.max(initialMs, retryMax ?? 600_000) };
  }
  if (grace !== undefined) timings.promiseGraceMs = grace;
  if (scan !== undefined) timings.sourceScanIntervalMs = scan;
  if (watchLocal) timings.watchLocalSoftware = true;
  return timings;
}

function watchLocalSoftware(config: NodeConfig): boolean {
  const text = config.options.watch_local_software;
  if (text === undefined || text.trim() === '') return false;
  try {
    return parseBoolean(text);
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `${config.file}: [slapos] watch_local_software: ${(error as Error).message}`,
    );
  }
}

export interface NodeMetricsSettings {
  host: string;
  port: number;
  /** `metrics_token_file`: scrapes need this token. */
  tokenFile: string | undefined;
}

/**
 * `[slapos] metrics_address` and `metrics_token_file`, checked; undefined when no address is set.
 * A non-loopback address without a token file is refused.
 */
export function nodeMetricsSettings(config: NodeConfig): NodeMetricsSettings | undefined {
  const text = config.options.metrics_address?.trim() ?? '';
  if (text === '') return undefined;
  const address = parseListenAddress(text);
  if (address === undefined)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `${config.file}: [slapos] metrics_address = ${JSON.stringify(text)}: expected ADDRESS:PORT (an IP address; IPv6 in brackets: [::1]:9100)`,
    );
  const { host, port } = address;
  const tokenText = config.options.metrics_token_file?.trim() ?? '';
  const tokenFile = tokenText === '' ? undefined : resolve(config.file, '..', tokenText);
  if (tokenFile === undefined && !isLoopbackHost(host))
    throw new SlapError(
      'SLAP_ERR_INSECURE_LISTEN',
      `${config.file}: [slapos] metrics_address = ${text}: refusing a non-loopback address without metrics_token_file`,
      { hint: 'listen on 127.0.0.1 or [::1], or set metrics_token_file to a 0600 file holding a token' },
    );
  return { host, port, tokenFile };
}
