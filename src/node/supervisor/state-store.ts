/**
 * What the supervisor keeps on disk, in its state directory (mode 0700), both written atomically
 * (temporary file + rename) with mode 0600:
 * - `programs.json`: the declared programs of every group, so a restarted daemon knows them;
 * - `processes.json`: per process its state, pid and /proc start time, and the configuration hash
 *   it runs with, plus the boot id, so a restarted daemon re-attaches to live processes instead of
 *   starting them again (and never mistakes a reused pid for one of them).
 * `processes.json` is rewritten after every state change (once per burst of changes).
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import type { SupervisorLogger } from './logger.ts';
import { assertName, normalizeGroup } from './program-config.ts';
import type { ProcessRecord } from './program.ts';
import { PROCESS_STATES, type ProgramConfig } from './types.ts';

export interface StoredRuntime {
  bootId: string;
  daemonPid: number;
  processes: Record<string, ProcessRecord>;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const nullableNumber = (value: unknown): number | null => (typeof value === 'number' ? value : null);
const nullableString = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function toProcessRecord(value: unknown): ProcessRecord | undefined {
  if (!isRecord(value) || typeof value.configHash !== 'string') return undefined;
  if (!(PROCESS_STATES as readonly unknown[]).includes(value.state)) return undefined;
  return {
    state: value.state as ProcessRecord['state'],
    pid: nullableNumber(value.pid),
    procStartTime: nullableNumber(value.procStartTime),
    startedAt: nullableNumber(value.startedAt),
    stoppedAt: nullableNumber(value.stoppedAt),
    exitCode: nullableNumber(value.exitCode),
    exitSignal: nullableString(value.exitSignal),
    spawnError: nullableString(value.spawnError),
    configHash: value.configHash,
  };
}

export class StateStore {
  readonly programsPath: string;
  readonly processesPath: string;

  constructor(
    readonly dir: string,
    private readonly logger: SupervisorLogger,
  ) {
    this.programsPath = join(dir, 'programs.json');
    this.processesPath = join(dir, 'processes.json');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** The declared programs; a damaged file stops the daemon (dropping programs silently would be worse). */
  async loadPrograms(logDir: string): Promise<Map<string, ProgramConfig[]>> {
    const groups = new Map<string, ProgramConfig[]>();
    let raw: unknown;
    try {
      raw = await readJson(this.programsPath);
      if (raw === undefined) return groups;
      if (!isRecord(raw) || raw.version !== 1 || !isRecord(raw.groups)) throw new Error('unexpected content');
      for (const [group, programs] of Object.entries(raw.groups))
        groups.set(assertName(group, 'group'), normalizeGroup(programs, { group, logDir }));
    } catch (error) {
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `cannot read ${this.programsPath}: ${(error as Error).message}`,
        {
          cause: error,
          hint: 'move the file away and let the node agent declare the programs again',
        },
      );
    }
    return groups;
  }

  async savePrograms(groups: ReadonlyMap<string, readonly ProgramConfig[]>): Promise<void> {
    const sorted = Object.fromEntries([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    await writeFileAtomic(this.programsPath, `${JSON.stringify({ version: 1, groups: sorted }, null, 1)}\n`, {
      mode: 0o600,
    });
  }

  /** The processes an earlier run left; a damaged file only loses re-attachment (logged). */
  async loadRuntime(): Promise<StoredRuntime | undefined> {
    try {
      const raw = await readJson(this.processesPath);
      if (raw === undefined) return undefined;
      if (!isRecord(raw) || raw.version !== 1 || !isRecord(raw.processes))
        throw new Error('unexpected content');
      const processes: Record<string, ProcessRecord> = {};
      for (const [name, value] of Object.entries(raw.processes)) {
        const record = toProcessRecord(value);
        if (record) processes[name] = record;
      }
      return {
        bootId: typeof raw.bootId === 'string' ? raw.bootId : '',
        daemonPid: typeof raw.daemonPid === 'number' ? raw.daemonPid : 0,
        processes,
      };
    } catch (error) {
      this.logger.error(
        { err: error, path: this.processesPath },
        'process state unreadable: not re-attaching',
      );
      return undefined;
    }
  }

  /**
   * Writes the runtime state now, synchronously: it must reach the kernel before anything else
   * happens, or a daemon killed right after a spawn would lose track of that process. No fsync:
   * this file only matters across a crash of the daemon, and a crash of the machine ends the
   * processes it describes anyway.
   */
  saveRuntimeSync(runtime: StoredRuntime): void {
    const tmp = `${this.processesPath}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify({ version: 1, ...runtime })}\n`, { mode: 0o600 });
      renameSync(tmp, this.processesPath);
    } catch (error) {
      this.logger.error({ err: error, path: this.processesPath }, 'cannot save process state');
      rmSync(tmp, { force: true });
    }
  }
}
