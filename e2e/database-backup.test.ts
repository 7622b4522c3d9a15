/**
 * Online backups and the restore procedure of docs/operations.md, end to end: `slapos proxy backup`
 * while a proxy process keeps writing, then the restore (stop, remove the -wal and -shm files, copy
 * the backup in place, start) and a master on the restored file serving every write acknowledged
 * before the backup started; `slapos master backup --dir` likewise for a master in master mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMasterAdmin } from '../src/master/master-admin.ts';
import { startMasterMode } from '../src/master/master-mode.ts';
import { runSlapos } from '../src/testing/cli.ts';
import { callApi, formatTestNode } from '../src/testing/master.ts';
import { startProxyProcess, stopProxyProcess } from '../src/testing/proxy-process.ts';

const SUPPLY = '/slapos.post.v0.software_installation';
const SOFTWARE_LIST = '/slapos.allDocs.v0.compute_node_software_installation_list';

async function withDirectory(work: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-e2e-backup-'));
  try {
    await work(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

function integrity(path: string): string {
  const database = new BetterSqlite3(path, { fileMustExist: true });
  try {
    return database.pragma('integrity_check', { simple: true }) as string;
  } finally {
    database.close();
  }
}

/** The restore procedure of docs/operations.md, once the master is stopped. */
async function restore(backup: string, database: string): Promise<void> {
  await rm(`${database}-wal`, { force: true });
  await rm(`${database}-shm`, { force: true });
  await copyFile(backup, database);
}

/** Writers supplying distinct software releases until stopped; what the master acknowledged, in order. */
function startWriters(url: string, count: number) {
  const acknowledged: string[] = [];
  let next = 0;
  let stopped = false;
  const failures: string[] = [];
  const writer = async (): Promise<void> => {
    while (!stopped) {
      const release = `http://sr.invalid/release-${next++}.cfg`;
      const answer = await callApi(url, SUPPLY, { computer_guid: 'computer', software_release_uri: release });
      if (answer.status === 200) acknowledged.push(release);
      else failures.push(`${answer.status} ${JSON.stringify(answer.body)}`);
    }
  };
  const running = Promise.all(Array.from({ length: count }, () => writer()));
  return {
    acknowledged,
    failures,
    async stop(): Promise<void> {
      stopped = true;
      await running;
    },
  };
}

async function suppliedReleases(url: string): Promise<Set<string>> {
  const answer = await callApi(url, SOFTWARE_LIST, { computer_guid: 'computer' });
  assert.equal(answer.status, 200);
  return new Set(
    (answer.body as { result_list: { software_release_uri: string }[] }).result_list.map(
      (entry) => entry.software_release_uri,
    ),
  );
}

test('proxy backup while the proxy writes; the restored database serves every write acknowledged before the backup', async () => {
  await withDirectory(async (directory) => {
    const database = join(directory, 'proxy.db');
    const backup = join(directory, 'backups', 'proxy-backup.db');
    let proxy = await startProxyProcess(
      ['--port', '0', '--database', database, '--computer-id', 'computer'],
      directory,
    );
    try {
      await formatTestNode(proxy.url, { partitions: 1 });
      const writers = startWriters(proxy.url, 2);
      // Some writes before the backup, more during it.
      while (writers.acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 10));
      const acknowledgedBefore = [...writers.acknowledged];
      await runSlapos(['proxy', 'backup', '--out', backup], { cwd: directory }).then((refused) => {
        assert.equal(refused.code, 5, 'the directory of --out does not exist yet');
        assert.match(refused.stderr, /does not exist/);
      });
      await mkdir(join(directory, 'backups'));
      const run = await runSlapos(['proxy', 'backup', '--database', database, '--out', backup, '--json'], {
        cwd: directory,
      });
      await writers.stop();
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(writers.failures, []);
      const printed = JSON.parse(run.stdout) as {
        database: string;
        out: string;
        bytes: number;
        pages: number;
      };
      assert.deepEqual([printed.database, printed.out], [database, backup]);
      assert.equal(printed.bytes, (await stat(backup)).size);
      assert.equal((await stat(backup)).mode & 0o777, 0o600);
      assert.equal(integrity(backup), 'ok');

      // A second backup to the same file is refused; --force replaces it.
      const again = await runSlapos(['proxy', 'backup', '--database', database, '--out', backup], {
        cwd: directory,
      });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /exists[\s\S]*--force/);

      // Restore: stop, put the backup in place, start.
      assert.equal(await stopProxyProcess(proxy), 0);
      await restore(backup, database);
      proxy = await startProxyProcess(['--port', '0', '--database', database], directory);
      const served = await suppliedReleases(proxy.url);
      const missing = acknowledgedBefore.filter((release) => !served.has(release));
      assert.deepEqual(missing, []);
      // Nothing but what the writers sent.
      const sent = new Set(writers.acknowledged);
      assert.deepEqual(
        [...served].filter((release) => !sent.has(release)),
        [],
      );
    } finally {
      await stopProxyProcess(proxy);
    }
    assert.equal(integrity(database), 'ok');
  });
});

test('master backup --dir: the database of a running master in master mode; restored, it holds what the backup saw', async () => {
  await withDirectory(async (directory) => {
    const dir = join(directory, 'master');
    const start = () => startMasterMode({ dir, host: '127.0.0.1', port: 0, closeGraceMs: 2_000 });
    let master = await start();
    try {
      const backup = join(directory, 'master-backup.db');
      const admin = await openMasterAdmin({ dir });
      try {
        await admin.addUser({ name: 'alice', admin: false });
        const run = await runSlapos(['master', 'backup', '--dir', dir, '--out', backup], { cwd: directory });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /master-backup\.db .*integrity checked/);
        await admin.addUser({ name: 'bob', admin: false });
      } finally {
        await admin.close();
      }
      // Restore: nothing may have the database open (the master, `slapos master user|node`).
      await master.close();
      await restore(backup, join(dir, 'master.db'));
      master = await start();
      const restored = await openMasterAdmin({ dir });
      try {
        assert.deepEqual(
          (await restored.listUsers()).map((user) => user.name),
          ['alice'],
        );
      } finally {
        await restored.close();
      }
    } finally {
      await master.close();
    }
  });
});

test('backup --help, and a missing --out, are clear', async () => {
  for (const group of ['master', 'proxy']) {
    const help = await runSlapos([group, 'backup', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--out <file>[\s\S]*--force[\s\S]*--json/);
    const missing = await runSlapos([group, 'backup', '--dir', '/nonexistent', '--database', '/nonexistent']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--out/);
  }
});
