/**
 * `restore --into` with real restic and a real repository server over mutual TLS: node A holds the
 * backups of tree 1 (a single, its local repository served) and the master names node B a reader
 * of it; node B restores one of them into its partition of tree 2, reading A's repository with
 * tree 1's password and its own node certificate, then runs tree 2's restore and check commands.
 * B may only read: a `restic backup` of it into A's repository fails; a node not named reads
 * nothing. The master is scripted (the sync answers of both nodes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock, systemClock } from '../../core/clock.ts';
import type { PartitionBackupPlan } from '../../core/backup-declaration.ts';
import { silentLogger } from '../../lib/logger.ts';
import { openTestCertificateAuthority } from '../../testing/master-mode-services.ts';
import type { BackupAgent } from './agent.ts';
import { backupTestPartition, dataPlan, partitionScript } from '../../testing/backup-partition.ts';
import { ensureServerCertificate } from './repository-server.ts';
import { Restic } from './restic.ts';
import { nodePemFile, resticTestAgent, serveRepositories } from '../../testing/restic-agents.ts';
import type { PartitionBackupAssignment } from './sync-protocol.ts';

const TREE_1_PASSWORD = 'dHJlZS0xLXBhc3N3b3JkLW9mLXRoZS1zb3VyY2U';
const TREE_2_PASSWORD = 'dHJlZS0yLXBhc3N3b3JkLW9mLXRoZS10YXJnZXQ';

test('node B restores into its tree a backup of tree 1 read from node A (a reader: never appends)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'backup-restore-into-'));
  const { ca, close: closeCa } = await openTestCertificateAuthority(systemClock);
  t.after(async () => {
    await closeCa();
    await rm(dir, { recursive: true, force: true });
  });
  const nodePem = (id: string): Promise<string> => nodePemFile(ca, dir, id);
  const [pemA, pemB, pemC] = [await nodePem('COMP-A'), await nodePem('COMP-B'), await nodePem('COMP-C')];
  const rootA = await backupTestPartition(join(dir, 'A', 'instance'), 'SOFTINST-1');
  const rootB = await backupTestPartition(join(dir, 'B', 'instance'), 'SOFTINST-2');
  await writeFile(join(rootA, 'srv', 'data', 'kv.db'), 'tree 1 data \u2028 \u0000\n');
  await writeFile(join(rootB, 'srv', 'data', 'kv.db'), 'tree 2 before');
  const planA = dataPlan({
    backupCommands: [await partitionScript(rootA, 'dump', 'echo dumped > srv/data/dump.sql')],
  });
  const planB = dataPlan({
    restoreCommands: [await partitionScript(rootB, 'load', 'cat srv/data/dump.sql > srv/loaded')],
    checkCommands: [
      await partitionScript(rootB, 'check', 'grep -q dumped srv/loaded && echo tree-2-checked'),
    ],
  });

  const logger = silentLogger();
  const clock = fixedClock(Date.now() / 1000);
  const serverCertificate = await ensureServerCertificate(join(dir, 'A', 'server'), ['127.0.0.1']);
  const served: { url?: string } = {};
  const answers = (): Record<string, PartitionBackupAssignment[]> => ({
    'COMP-A': [
      {
        partition_id: 'slappart0',
        instance_guid: 'SOFTINST-1',
        repository: 'tree-1',
        password: TREE_1_PASSWORD,
        role: 'single',
        epoch: 0,
        targets: [],
        writers: [],
        readers: ['COMP-B'],
        backup_requested_at: null,
        restore_request: null,
      },
    ],
    'COMP-B': [
      {
        partition_id: 'slappart0',
        instance_guid: 'SOFTINST-2',
        repository: 'tree-2',
        password: TREE_2_PASSWORD,
        role: 'main',
        epoch: 0,
        targets: [],
        writers: [],
        readers: [],
        backup_requested_at: null,
        restore_request: {
          request_id: 'restore-into-1',
          backup_id: null,
          source: {
            repository: 'tree-1',
            password: TREE_1_PASSWORD,
            locations: [
              { computer_guid: 'COMP-A', url: served.url!, certificate: serverCertificate.certificatePem },
            ],
          },
        },
      },
    ],
  });
  const agent = (node: string, root: string, pem: string, plan: PartitionBackupPlan): BackupAgent =>
    resticTestAgent({ dir, node, root, answers, plan, pem, logger, clock });
  const nodeA = agent('COMP-A', rootA, pemA, planA);
  const nodeB = agent('COMP-B', rootB, pemB, planB);
  const server = await serveRepositories({
    agent: nodeA,
    certificate: serverCertificate,
    clientCa: ca.caCertificatePem,
    logger,
  });
  served.url = server.url;
  t.after(async () => {
    await nodeA.close({ graceMs: 1000 });
    await nodeB.close({ graceMs: 1000 });
    await server.close();
  });

  await nodeA.syncOnce(); // A backs tree 1 up into its repository, and knows its reader
  await nodeA.idle();
  const backupId = (await nodeA.report()).partition_list[0]?.last_backup?.backup_id;
  assert.ok(backupId, 'A holds a backup of tree 1');

  await nodeB.syncOnce();
  await nodeB.idle();
  assert.equal(await readFile(join(rootB, 'srv', 'data', 'kv.db'), 'utf8'), 'tree 1 data \u2028 \u0000\n');
  assert.equal(
    await readFile(join(rootB, 'srv', 'loaded'), 'utf8'),
    'dumped\n',
    "tree 2's restore command ran",
  );
  assert.deepEqual((await nodeB.report()).partition_list[0]?.restore_done, {
    request_id: 'restore-into-1',
    ok: true,
    message: `restored ${backupId}; checked: tree-2-checked`,
    restored_backup_id: backupId,
  });

  const tree1Directory = join(nodeA.repositoriesDirectory, 'tree-1');
  const before = await storedFiles(tree1Directory);
  // B reads only: its push into A's repository of tree 1 is refused; C, not named, reads nothing.
  const restic = new Restic({ cacheDir: join(dir, 'probe-cache'), logger });
  const tree1 = (pem: string) => ({
    url: `rest:${server.url}/tree-1/`,
    password: TREE_1_PASSWORD,
    caFile: serverCertificate.certFile,
    clientCertFile: pem,
  });
  assert.deepEqual(
    (await restic.snapshots(tree1(pemB))).map((snapshot) => snapshot.backupId),
    [backupId],
  );
  // restic retries a refused upload for about a minute before it exits: the first refusal is enough.
  const push = await resticUntilRefused(
    ['--repo=' + tree1(pemB).url, `--cacert=${serverCertificate.certFile}`, `--tls-client-cert=${pemB}`],
    ['backup', '--host=slapos', 'srv/data'],
    { cwd: rootB, password: TREE_1_PASSWORD, cacheDir: join(dir, 'probe-cache') },
  );
  assert.match(push.stderr, /403 Forbidden/, push.stderr);
  assert.notEqual(push.exitCode, 0);
  await assert.rejects(restic.snapshots(tree1(pemC)), { code: 'SLAP_ERR_BACKUP' });
  const local = { url: join(nodeA.repositoriesDirectory, 'tree-1'), password: TREE_1_PASSWORD };
  assert.deepEqual(
    (await restic.snapshots(local)).map((snapshot) => snapshot.backupId),
    [backupId],
    'nothing was added to tree 1',
  );
  assert.deepEqual(await storedFiles(tree1Directory), before, 'no file was stored in tree 1');
});

/** The files of a local repository but its locks (which readers take), relative to it. */
async function storedFiles(repository: string): Promise<string[]> {
  const entries = await readdir(repository, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(repository.length + 1))
    .filter((path) => !path.startsWith('locks/'))
    .sort();
}

/**
 * Runs restic until it says the server refused a request (then stops it) or it exits; what it
 * printed on stderr and its exit code (null when stopped).
 */
async function resticUntilRefused(
  options: string[],
  command: string[],
  context: { cwd: string; password: string; cacheDir: string },
): Promise<{ stderr: string; exitCode: number | null }> {
  const secrets = await mkdtemp(join(tmpdir(), 'restic-probe-'));
  const passwordFile = join(secrets, 'password');
  await writeFile(passwordFile, context.password, { mode: 0o600 });
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn('restic', [...options, ...command], {
        cwd: context.cwd,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          RESTIC_PASSWORD_FILE: passwordFile,
          RESTIC_CACHE_DIR: context.cacheDir,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      let stopped = false;
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (!stopped && /\b40[13] /.test(stderr)) {
          stopped = true;
          child.kill('SIGKILL');
        }
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ stderr, exitCode: stopped ? null : code }));
    });
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}
