/**
 * restic in memory for tests of the backup agent (src/node/backup/agent.ts): repositories hold
 * snapshots of real files (read from the partition at backup, written at restore). A remote target
 * (`rest:https://HOST:PORT/tree-N/`) can be mapped to the directory of the node serving it, so that
 * what a main pushes is what that node's clone finds in its local repository (and `onStored` plays
 * the repository server's onSnapshot).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { PartitionBackupPlan } from '../core/backup-declaration.ts';
import type { ResticDriver } from '../node/backup/agent.ts';
import type { BackupOptions, BackupSummary, ResticTarget, SnapshotInfo } from '../node/backup/restic.ts';

interface FakeSnapshot extends SnapshotInfo {
  files: Map<string, Buffer>;
}

export class FakeRestic implements ResticDriver {
  /** Snapshots by repository (a local path, or a remote URL that no served directory maps). */
  readonly repositories = new Map<string, FakeSnapshot[]>();
  readonly calls: string[] = [];
  failBackup: ((target: ResticTarget) => boolean) | undefined;
  /** A push that never ends (a peer gone with the network) until its signal stops it. */
  hangBackup: ((target: ResticTarget) => boolean) | undefined;
  /** `rest:https://HOST:PORT/` → the repositories directory of the node serving it. */
  readonly served = new Map<string, { directory: string; onStored?: (repository: string) => void }>();
  private counter = 0;

  constructor(private readonly password?: string) {}

  async init(target: ResticTarget): Promise<void> {
    const key = this.key(target);
    this.calls.push(`init ${target.url}`);
    if (!this.repositories.has(key)) this.repositories.set(key, []);
    // A local repository is a directory with its config, as restic makes it.
    if (!key.startsWith('rest:')) {
      await mkdir(key, { recursive: true });
      await writeFile(join(key, 'config'), '');
    }
  }

  async backup(target: ResticTarget, options: BackupOptions): Promise<BackupSummary> {
    const key = this.key(target);
    this.calls.push(`backup ${target.url} ${options.backupId}`);
    const repository = this.repositories.get(key);
    if (repository === undefined) throw new Error('no repository');
    if (this.failBackup?.(target)) throw new Error('push refused');
    if (this.hangBackup?.(target))
      await new Promise<never>((_, reject) => {
        const stop = (): void => reject(new Error('restic backup was stopped'));
        if (options.signal?.aborted) stop();
        options.signal?.addEventListener('abort', stop, { once: true });
      });
    const files = new Map<string, Buffer>();
    for (const path of options.paths) await collect(options.cwd, join(options.cwd, path), files);
    const snapshot: FakeSnapshot = {
      snapshotId: `snap${++this.counter}`,
      backupId: options.backupId,
      time: Date.now() / 1000,
      paths: [...options.paths],
      tags: [`slapos-backup:${options.backupId}`, ...(options.tags ?? [])],
      files,
    };
    repository.push(snapshot);
    this.stored(target);
    return {
      snapshotId: snapshot.snapshotId,
      backupId: options.backupId,
      time: snapshot.time,
      bytesAdded: 1,
      filesNew: files.size,
      filesChanged: 0,
      totalBytes: 1,
    };
  }

  snapshots(target: ResticTarget): Promise<SnapshotInfo[]> {
    const key = this.key(target);
    this.calls.push(`snapshots ${target.url}`);
    return Promise.resolve(
      (this.repositories.get(key) ?? []).map(({ files: _files, ...info }) => ({ ...info })),
    );
  }

  async restore(target: ResticTarget, snapshotId: string, intoDir: string): Promise<void> {
    const key = this.key(target);
    this.calls.push(`restore ${target.url} ${snapshotId}`);
    const snapshot = this.repositories.get(key)?.find((s) => s.snapshotId === snapshotId);
    if (snapshot === undefined) throw new Error('no such snapshot');
    for (const [path, content] of snapshot.files) {
      await mkdir(join(intoDir, path, '..'), { recursive: true });
      await writeFile(join(intoDir, path), content);
    }
  }

  forget(target: ResticTarget, keep: PartitionBackupPlan['keep']): Promise<void> {
    const key = this.key(target);
    this.calls.push(`forget ${target.url}`);
    const repository = this.repositories.get(key) ?? [];
    repository.splice(0, Math.max(0, repository.length - keep.last));
    return Promise.resolve();
  }

  check(target: ResticTarget): Promise<void> {
    this.key(target);
    return Promise.resolve();
  }

  /** Puts a snapshot of these files in a local repository (what a main's push leaves). */
  add(path: string, backupId: string, files: Record<string, string>): void {
    const list = this.repositories.get(path) ?? [];
    this.repositories.set(path, list);
    list.push({
      snapshotId: `snap${++this.counter}`,
      backupId,
      time: 0,
      paths: ['srv'],
      tags: [],
      files: new Map(Object.entries(files).map(([name, text]) => [name, Buffer.from(text)])),
    });
  }

  /** Where a target's snapshots are kept: a served remote maps to the serving node's directory. */
  private key(target: ResticTarget): string {
    if (this.password !== undefined) assert.equal(target.password, this.password);
    const match = /^(rest:https:\/\/[^/]+\/)(tree-\d+)\/$/.exec(target.url);
    const served = match ? this.served.get(match[1]!) : undefined;
    return served && match ? join(served.directory, match[2]!) : target.url;
  }

  private stored(target: ResticTarget): void {
    const match = /^(rest:https:\/\/[^/]+\/)(tree-\d+)\/$/.exec(target.url);
    if (match) this.served.get(match[1]!)?.onStored?.(match[2]!);
  }
}

async function collect(root: string, path: string, files: Map<string, Buffer>): Promise<void> {
  const info = await stat(path);
  if (info.isDirectory()) {
    for (const name of await readdir(path)) await collect(root, join(path, name), files);
  } else files.set(relative(root, path), await readFile(path));
}
