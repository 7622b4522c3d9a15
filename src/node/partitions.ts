/**
 * The partitions of this compute node as the file system knows them: their ids (from the format
 * state, else the directories holding a `.slapos-resource`), and who owns each (the user its
 * processes run as).
 */
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { loadFormatState, stateFilePath } from './format/state.ts';

/** The formatted partitions' ids, in format order. */
export async function localPartitionIds(instanceRoot: string): Promise<string[]> {
  const state = await loadFormatState(stateFilePath(instanceRoot));
  if (state) return state.partitions.map((p) => p.reference);
  let names: string[];
  try {
    names = await readdir(instanceRoot);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    try {
      if ((await stat(join(instanceRoot, name, '.slapos-resource'))).isFile()) out.push(name);
    } catch {
      // not a partition
    }
  }
  return out;
}

/**
 * The partitions whose instance uses the software release installed in `softwareDirectory` (their
 * `software_release` link points to it; destroying an instance removes the link with the rest).
 */
export async function partitionsUsingSoftware(
  instanceRoot: string,
  softwareDirectory: string,
): Promise<string[]> {
  const users: string[] = [];
  for (const id of await localPartitionIds(instanceRoot)) {
    const target = await readlink(join(instanceRoot, id, 'software_release')).catch(() => undefined);
    if (target === softwareDirectory) users.push(id);
  }
  return users;
}

/** `--only-cp a,b`: the listed ids, refused with a clear error if one is not a partition. */
export function selectPartitionIds(all: readonly string[], only: readonly string[] | undefined): string[] {
  if (only === undefined) return [...all];
  const unknown = only.filter((id) => !all.includes(id));
  if (unknown.length > 0)
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `unknown partition${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
      {
        hint:
          all.length === 0
            ? 'no partition is formatted yet: run slapos node format'
            : `partitions: ${all.join(', ')}`,
      },
    );
  return all.filter((id) => only.includes(id));
}

/** Splits a comma-separated option value (`--only-cp a,b`). */
export function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export interface PartitionOwner {
  uid: number;
  gid: number;
  /** User name (USER, LOGNAME of its services). */
  name: string;
  /** Home (HOME of its services): the passwd home, or the partition itself in sandbox mode. */
  home: string;
  /** The node runs as root and the partition belongs to another user: act as that user. */
  switchUser: boolean;
}

/** Reads /etc/passwd once per pass. */
export class PasswdCache {
  private entries: Map<number, { name: string; home: string }> | undefined;

  constructor(private readonly file = '/etc/passwd') {}

  async lookup(uid: number): Promise<{ name: string; home: string } | undefined> {
    if (!this.entries) {
      this.entries = new Map();
      const text = await readFile(this.file, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        const [name, , id, , , home] = line.split(':');
        if (name && id !== undefined && home !== undefined && !this.entries.has(Number(id)))
          this.entries.set(Number(id), { name, home });
      }
    }
    return this.entries.get(uid);
  }
}

export async function partitionOwner(
  partitionPath: string,
  options: { passwd?: PasswdCache; isRoot?: boolean } = {},
): Promise<PartitionOwner> {
  const info = await stat(partitionPath);
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const switchUser = isRoot && info.uid !== 0;
  if (!switchUser) {
    const me = userInfo();
    return { uid: info.uid, gid: info.gid, name: me.username, home: partitionPath, switchUser };
  }
  const entry = await (options.passwd ?? new PasswdCache()).lookup(info.uid);
  return {
    uid: info.uid,
    gid: info.gid,
    name: entry?.name ?? String(info.uid),
    home: entry?.home ?? partitionPath,
    switchUser,
  };
}
