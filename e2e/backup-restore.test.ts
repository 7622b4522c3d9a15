/**
 * Backups and restores of a `single` instance end to end (issue 12), with real processes on loopback:
 * a standalone (master, supervisor, node agent with its backup agent, real restic) runs examples/kv,
 * which declares its data; `slapos service backup --wait` takes a backup into the node's local
 * repository, `slapos service backups` lists it, `slapos service restore --backup ID` puts exactly
 * that state back (later writes gone) after the declared check; a flipped byte in a data pack, then
 * a missing pack, make the restore fail with a clear message, leave the data as it was and the
 * service running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { waitFor } from '../src/testing/supervisor.ts';
import { startTestStandalone, waitForConnection, type TestStandalone } from '../src/testing/standalone.ts';

const SR = join(fileURLToPath(new URL('../../examples/kv/', import.meta.url)), 'software.cfg');
const NAME = 'kv-backup-e2e';

let sa: TestStandalone;
let url: string;

before(async () => {
  sa = await startTestStandalone({
    partitions: 2,
    prefix: 'sa-bk-',
    sections: { backup: { heartbeat: 0.5 } },
  });
});

after(async () => {
  await sa?.close();
});

async function call(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const response = await request(`${url}${path}`, {
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
function contentWhenUp(): Promise<Record<string, string>> {
  return waitFor(
    `${url}/kv answering`,
    async () => {
      try {
        const answer = await call('GET', '/kv');
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

/** The data pack files of the node's local repository of the tree. */
async function dataPacks(): Promise<string[]> {
  const repositories = join(sa.dir, 'backup', 'repositories');
  const trees = (await readdir(repositories)).filter((name) => /^tree-\d+$/.test(name));
  assert.equal(trees.length, 1, JSON.stringify(trees));
  const data = join(repositories, trees[0] as string, 'data');
  const packs: string[] = [];
  for (const sub of await readdir(data))
    for (const file of await readdir(join(data, sub))) packs.push(join(data, sub, file));
  assert.ok(packs.length > 0);
  return packs;
}

test('a single instance: backup, list, restore exactly that state; damage detected, data kept', async () => {
  await slaposOk(['supply', SR, sa.computerGuid]);
  await sa.slapos(['request', NAME, SR, '--parameters', 'backup-period=2', '--cfg', sa.layout.config]);
  const guid = (await sa.client.getInstanceTree(NAME)).instance_guid;
  url = (await waitForConnection(sa.client, guid, 'url', { timeoutMs: 120_000 })).url as string;
  assert.deepEqual(await contentWhenUp(), {});

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

  // 2. Later writes, then the restore of that backup: exactly its state, checked.
  assert.equal((await call('PUT', '/kv/a', 'changed')).status, 200);
  assert.equal((await call('PUT', '/kv/c', 'later')).status, 200);
  const done = await restore(['--backup', backupId]);
  assert.match(done, new RegExp(`${backupId}: done`));
  assert.deepEqual(await contentWhenUp(), { a: '1', b: 'deux' });

  // 3. Damage: a flipped byte in a data pack, then a missing pack. The restore fails and says so;
  // the data is not replaced; the service runs again.
  assert.equal((await call('PUT', '/kv/d', 'kept')).status, 200);
  const expected = { a: '1', b: 'deux', d: 'kept' };
  const packs = await dataPacks();
  for (const pack of packs) {
    const file = await open(pack, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, 100);
      byte[0] = (byte[0] ?? 0) ^ 0xff;
      await file.write(byte, 0, 1, 100);
    } finally {
      await file.close();
    }
  }
  const corrupt = await restore(['--backup', backupId]);
  assert.match(corrupt, /: failed \(.+\)/);
  assert.deepEqual(await contentWhenUp(), expected);

  for (const pack of packs) await rm(pack);
  const missing = await restore(['--backup', backupId]);
  assert.match(missing, /: failed \(.+\)/);
  assert.deepEqual(await contentWhenUp(), expected);
});
