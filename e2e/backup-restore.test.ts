/**
 * Backups and restores of a `single` instance end to end (issue 12), with real processes on loopback:
 * a standalone (master, supervisor, node agent with its backup agent, real restic) runs examples/kv,
 * which declares its data; `slapos service backup --wait` takes a backup into the node's local
 * repository, `slapos service backups` lists it, `slapos service restore --backup ID` puts exactly
 * that state back (later writes gone) after the declared check, `slapos service restore --into`
 * puts it into a new service requested like the source (`--wait` reads the outcome); a flipped byte
 * in a data pack, then a missing pack, make the restore fail with a clear message, leave the data as
 * it was and the service running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { execFile } from '../src/lib/exec.ts';
import { waitFor } from '../src/testing/supervisor.ts';
import { startTestStandalone, waitForConnection, type TestStandalone } from '../src/testing/standalone.ts';

const SR = join(fileURLToPath(new URL('../../examples/kv/', import.meta.url)), 'software.cfg');
const NAME = 'kv-backup-e2e';
const COPY = 'kv-backup-e2e-copy';

let sa: TestStandalone;
let url: string;

before(async () => {
  sa = await startTestStandalone({
    partitions: 3,
    prefix: 'sa-bk-',
    sections: { backup: { heartbeat: 0.5 } },
  });
});

after(async () => {
  await sa?.close();
});

async function call(
  method: string,
  path: string,
  body?: string,
  base = url,
): Promise<{ status: number; text: string }> {
  const response = await request(`${base}${path}`, {
    method,
    body: body ?? null,
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.statusCode, text: await response.body.text() };
}

async function slaposOk(args: string[]): Promise<string> {
  const run = await sa.slapos([...args, '--cfg', sa.layout.config], { timeoutMs: 120_000 });
  assert.equal(run.exitCode, 0, `slapos ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

/** The store's content, once it answers. */
function contentWhenUp(base = url): Promise<Record<string, string>> {
  return waitFor(
    `${base}/kv answering`,
    async () => {
      try {
        const answer = await call('GET', '/kv', undefined, base);
        return answer.status === 200 ? (JSON.parse(answer.text) as Record<string, string>) : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

/** The details of the instance's `restored` events, oldest first (the master's timeline). */
function restoredEvents(): string[] {
  const db = new Database(sa.layout.database, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT e.detail FROM instance_event e JOIN instance i ON i.id = e.instance_id
         WHERE i.title = ? AND e.kind = 'restored' ORDER BY e.at, e.id`,
      )
      .all(NAME) as { detail: string }[];
    return rows.map((row) => row.detail);
  } finally {
    db.close();
  }
}

/** Asks for a restore; the `restored` event the node's report made. */
async function restore(args: string[]): Promise<string> {
  const before = restoredEvents().length;
  const requestId = (await slaposOk(['service', 'restore', NAME, ...args])).trim();
  assert.match(requestId, /\S/);
  const events = await waitFor(
    'the restored event',
    () => {
      const events = restoredEvents();
      return events.length > before ? Promise.resolve(events) : Promise.resolve(undefined);
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  assert.equal(events.length, before + 1, JSON.stringify(events));
  const detail = events.at(-1) ?? '';
  assert.ok(detail.includes(requestId.split(/\s+/).at(-1) ?? ''), `${detail} ≠ ${requestId}`);
  return detail;
}

/** The node's local repository of the tree (`[backup] directory`, default beside the instance root). */
async function localRepository(): Promise<{ dir: string; password: string }> {
  const repositories = join(sa.dir, 'backup', 'repositories');
  const trees = (await readdir(repositories)).filter((name) => /^tree-\d+$/.test(name));
  assert.equal(trees.length, 1, JSON.stringify(trees));
  const db = new Database(sa.layout.database, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT password FROM backup_tree WHERE root_instance_id = ?')
      .get(Number((trees[0] as string).slice('tree-'.length))) as { password: string } | undefined;
    assert.ok(row);
    return { dir: join(repositories, trees[0] as string), password: row.password };
  } finally {
    db.close();
  }
}

/** The files of the packs that hold only file contents (restic packs data and trees apart). */
async function dataPacks(): Promise<string[]> {
  const { dir, password } = await localRepository();
  const secrets = await mkdtemp(join(tmpdir(), 'bk-e2e-'));
  try {
    await writeFile(join(secrets, 'password'), password, { mode: 0o600 });
    const restic = async (...args: string[]): Promise<string> => {
      const run = await execFile('restic', [`--repo=${dir}`, '--no-lock', ...args], {
        env: { PATH: process.env.PATH, HOME: secrets, RESTIC_PASSWORD_FILE: join(secrets, 'password') },
        timeoutMs: 60_000,
      });
      assert.equal(run.exitCode, 0, run.stderr);
      return run.stdout;
    };
    const packs: string[] = [];
    for (const index of (await restic('list', 'index')).split('\n').filter(Boolean)) {
      const parsed = JSON.parse(await restic('cat', 'index', index)) as {
        packs: { id: string; blobs: { type: string }[] }[];
      };
      for (const pack of parsed.packs)
        if (pack.blobs.every((blob) => blob.type === 'data'))
          packs.push(join(dir, 'data', pack.id.slice(0, 2), pack.id));
    }
    return packs;
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}

async function flipByte(path: string, position: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, position);
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await file.write(byte, 0, 1, position);
  } finally {
    await file.close();
  }
}

test('a single instance: backup, list, restore exactly that state; damage detected, data kept', async () => {
  await slaposOk(['supply', SR, sa.computerGuid]);
  await sa.slapos(['request', NAME, SR, '--parameters', 'backup-period=2', '--cfg', sa.layout.config]);
  const guid = (await sa.client.getInstanceTree(NAME)).instance_guid;
  url = (await waitForConnection(sa.client, guid, 'url', { timeoutMs: 120_000 })).url as string;
  assert.deepEqual(await contentWhenUp(), {});

  // The master knows of the tree's backups once the node has reported the declaration (its next sync).
  await waitFor(
    'the declaration reported',
    async () =>
      (await sa.slapos(['service', 'backups', NAME, '--json', '--cfg', sa.layout.config])).exitCode === 0 ||
      undefined,
    { timeoutMs: 60_000, intervalMs: 200 },
  );

  // 1. Two writes, a backup on demand, listed.
  for (const [key, value] of [
    ['a', '1'],
    ['b', 'deux'],
  ])
    assert.equal((await call('PUT', `/kv/${key}`, value)).status, 200);
  const taken = JSON.parse(
    await slaposOk([
      'service',
      'backup',
      NAME,
      '--wait',
      '--poll-interval',
      '0.5',
      '--timeout',
      '60',
      '--json',
    ]),
  ) as {
    backup: { backup_id: string };
  };
  const backupId = taken.backup.backup_id;
  assert.match(backupId, /^\d{8}T\d{9}Z-[0-9a-f]{4}$/);
  const listed = (
    JSON.parse(await slaposOk(['service', 'backups', NAME, '--json'])) as {
      backup_list: { backup_id: string; computer_guid_list: string[] }[];
    }
  ).backup_list;
  assert.ok(
    listed.some((b) => b.backup_id === backupId && b.computer_guid_list.includes(sa.computerGuid)),
    JSON.stringify(listed),
  );

  // The packs of this backup's file contents (later backups of the same content add none).
  const packs = await dataPacks();

  // 2. Later writes, then the restore of that backup: exactly its state, checked.
  assert.equal((await call('PUT', '/kv/a', 'changed')).status, 200);
  assert.equal((await call('PUT', '/kv/c', 'later')).status, 200);
  const done = await restore(['--backup', backupId]);
  // Done, after the declared check (its verdict is in the message).
  assert.match(
    done,
    new RegExp(
      `${backupId}: done \\(restored ${backupId}; checked: .*data\\.jsonl: 2 records, seq increasing\\)$`,
    ),
  );
  assert.deepEqual(await contentWhenUp(), { a: '1', b: 'deux' });

  // 3. The same backup into a new service: requested like the source, restored there, checked;
  // `--wait` prints the outcome. The source is left as it is.
  const copied = JSON.parse(
    await slaposOk([
      'service',
      'restore',
      NAME,
      '--into',
      COPY,
      '--backup',
      backupId,
      '--wait',
      '--poll-interval',
      '0.5',
      '--timeout',
      '120',
      '--json',
    ]),
  ) as { state: string; source: string; restored_backup_id: string | null; message: string };
  assert.equal(copied.state, 'done', JSON.stringify(copied));
  assert.equal(copied.source, NAME);
  assert.equal(copied.restored_backup_id, backupId);
  assert.match(copied.message, /checked: .*data\.jsonl: 2 records, seq increasing/);
  const copyTree = await sa.client.getInstanceTree(COPY);
  assert.equal(copyTree.software_release_uri, SR);
  const copyUrl = (await waitForConnection(sa.client, copyTree.instance_guid, 'url', { timeoutMs: 120_000 }))
    .url as string;
  assert.notEqual(copyUrl, url);
  assert.deepEqual(await contentWhenUp(copyUrl), { a: '1', b: 'deux' });
  assert.equal((await call('PUT', '/kv/copy-only', 'yes', copyUrl)).status, 200);
  assert.deepEqual(await contentWhenUp(), { a: '1', b: 'deux' });
  // The copy's own status, as `backups` shows it.
  assert.match(await slaposOk(['service', 'backups', COPY]), new RegExp(`restore.*done.*${backupId}`));

  // 4. Damage to the backup's file contents: a flipped byte in its data pack, then that pack
  // missing. The restore fails and says so; the data is not replaced; the service runs again.
  assert.equal((await call('PUT', '/kv/d', 'kept')).status, 200);
  const expected = { a: '1', b: 'deux', d: 'kept' };
  assert.ok(packs.length > 0);
  for (const pack of packs) await flipByte(pack, 20);
  const corrupt = await restore(['--backup', backupId]);
  assert.match(corrupt, new RegExp(`${backupId}: failed \\(.+\\)`));
  assert.deepEqual(await contentWhenUp(), expected);

  for (const pack of packs) await rm(pack);
  const missing = await restore(['--backup', backupId]);
  assert.match(missing, new RegExp(`${backupId}: failed \\(.+\\)`));
  assert.deepEqual(await contentWhenUp(), expected);
});
