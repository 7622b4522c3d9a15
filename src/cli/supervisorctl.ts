/**
 * What `slapos node supervisorctl <action>` and its aliases (`slapos node status|start|stop|
 * restart|tail`) share: finding the supervisor (slapos.cfg's `[slapos] instance_root`, or
 * --instance-root / --socket), resolving supervisorctl's name patterns (`group:name`, `group:*`,
 * a bare group name, `all`), and printing as supervisorctl does.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT, SlapError } from '../core/errors.ts';
import { resolve } from 'node:path';
import { parseIni } from '../lib/ini.ts';
import { configPath } from '../node/config.ts';
import { SupervisorClient } from '../node/supervisor/client.ts';
import { supervisorPaths, type SupervisorPaths } from '../node/supervisor/paths.ts';
import type { ActionResult, ProcessInfo } from '../node/supervisor/types.ts';
import type { CliContext } from './context.ts';

export const DEFAULT_SLAPOS_CFG = '/etc/opt/slapos/slapos.cfg';

export interface LocationOptions {
  cfg?: string;
  socket?: string;
  instanceRoot?: string;
}

export function addLocationOptions(command: Command): Command {
  return command
    .option(
      '--cfg <path>',
      `slapos.cfg to read [slapos] instance_root from (default: $SLAPOS_CONFIGURATION or ${DEFAULT_SLAPOS_CFG})`,
    )
    .option('--instance-root <dir>', 'instance root (instead of the one in slapos.cfg)')
    .option('--socket <path>', "the supervisor's socket (default: <instance_root>/sv.sock)");
}

function instanceRootFromCfg(path: string, env: NodeJS.ProcessEnv): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SlapError('SLAP_ERR_CONFIG', `cannot read ${path}: ${(error as Error).message}`, {
      hint: 'give the configuration with --cfg, or the instance root with --instance-root',
      cause: error,
    });
  }
  const root = parseIni(text, path).get('slapos', 'instance_root');
  if (!root) throw new SlapError('SLAP_ERR_CONFIG', `${path}: [slapos] instance_root is missing`);
  return configPath(path, root, env);
}

/** The supervisor's paths for these options; with only --socket, the other paths stay unknown. */
export function resolveSupervisorPaths(
  options: LocationOptions,
  ctx: CliContext,
): SupervisorPaths | { socket: string } {
  const cfg = options.cfg ?? (ctx.env.SLAPOS_CONFIGURATION || undefined);
  if (options.instanceRoot === undefined && cfg === undefined && options.socket !== undefined)
    return { socket: options.socket };
  const root =
    options.instanceRoot ?? instanceRootFromCfg(resolve(ctx.cwd, cfg ?? DEFAULT_SLAPOS_CFG), ctx.env);
  const paths = supervisorPaths(root);
  return options.socket === undefined ? paths : { ...paths, socket: options.socket };
}

export function clientFor(options: LocationOptions, ctx: CliContext): SupervisorClient {
  return new SupervisorClient({ socketPath: resolveSupervisorPaths(options, ctx).socket });
}

/** supervisorctl's status lines: name, state, description, in columns. */
export function renderStatus(processes: readonly ProcessInfo[]): string {
  const width = Math.max(32, ...processes.map((p) => p.fullName.length + 1));
  return processes
    .map((p) => `${p.fullName.padEnd(width)} ${p.state.padEnd(10)} ${p.description}`.trimEnd())
    .join('\n');
}

/** One target of an action: a whole group, or one process. */
export type Target = { kind: 'group'; group: string } | { kind: 'process'; fullName: string };

export type Resolved = { target: Target } | { error: ActionResult };

function noSuchProcess(name: string): ActionResult {
  return {
    name,
    ok: false,
    error: {
      code: 'SLAP_ERR_NO_SUCH_PROCESS',
      message: `no such process: ${name}`,
      reason: 'no such process',
    },
  };
}

/** Expands supervisorctl names against the current status. */
export function resolveTargets(names: readonly string[], processes: readonly ProcessInfo[]): Resolved[] {
  const groups = [...new Set(processes.map((p) => p.group))];
  return names.flatMap((name): Resolved[] => {
    if (name === 'all') return groups.map((group) => ({ target: { kind: 'group', group } }));
    if (name.endsWith(':*')) {
      const group = name.slice(0, -2);
      return groups.includes(group)
        ? [{ target: { kind: 'group', group } }]
        : [{ error: noSuchProcess(name) }];
    }
    if (!name.includes(':'))
      return groups.includes(name)
        ? [{ target: { kind: 'group', group: name } }]
        : [{ error: noSuchProcess(name) }];
    return processes.some((p) => p.fullName === name)
      ? [{ target: { kind: 'process', fullName: name } }]
      : [{ error: noSuchProcess(name) }];
  });
}

/** Processes matching the names (all of them without names), plus errors for names matching none. */
export function selectProcesses(
  names: readonly string[],
  processes: readonly ProcessInfo[],
): { selected: ProcessInfo[]; errors: ActionResult[] } {
  if (names.length === 0) return { selected: [...processes], errors: [] };
  const selected = new Map<string, ProcessInfo>();
  const errors: ActionResult[] = [];
  for (const resolved of resolveTargets(names, processes)) {
    if ('error' in resolved) {
      errors.push(resolved.error);
      continue;
    }
    const { target } = resolved;
    for (const p of processes)
      if (target.kind === 'group' ? p.group === target.group : p.fullName === target.fullName)
        selected.set(p.fullName, p);
  }
  return { selected: [...selected.values()], errors };
}

export type Verb = 'start' | 'stop';

/** Runs one verb on every target; errors are results, as supervisorctl reports them line by line. */
export async function runVerb(
  client: SupervisorClient,
  verb: Verb,
  resolved: readonly Resolved[],
): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  for (const item of resolved) {
    if ('error' in item) {
      results.push(item.error);
      continue;
    }
    const { target } = item;
    if (target.kind === 'group') {
      results.push(
        ...(verb === 'start' ? await client.startGroup(target.group) : await client.stopGroup(target.group)),
      );
      continue;
    }
    try {
      const info =
        verb === 'start'
          ? await client.startProcess(target.fullName)
          : await client.stopProcess(target.fullName);
      results.push({ name: target.fullName, ok: true, info });
    } catch (error) {
      if (!(error instanceof SlapError) || error.code === 'SLAP_ERR_SUPERVISOR_NOT_RUNNING') throw error;
      const reason = typeof error.details?.reason === 'string' ? error.details.reason : error.message;
      results.push({
        name: target.fullName,
        ok: false,
        error: { code: error.code, message: error.message, reason },
      });
    }
  }
  return results;
}

const PAST: Record<Verb, string> = { start: 'started', stop: 'stopped' };

/** `name: started` / `name: ERROR (already started)` lines. */
export function renderResults(verb: Verb, results: readonly ActionResult[]): string[] {
  return results.map((result) =>
    result.ok ? `${result.name}: ${PAST[verb]}` : `${result.name}: ERROR (${result.error.reason})`,
  );
}

/** Prints results (or JSON) and sets a failure exit code if any failed. */
export function reportResults(
  ctx: CliContext,
  verb: Verb,
  results: readonly ActionResult[],
  json: boolean,
): void {
  if (json) ctx.printJson(results);
  else for (const line of renderResults(verb, results)) ctx.print(line);
  if (results.some((result) => !result.ok)) ctx.exitCode = EXIT.failure;
}
