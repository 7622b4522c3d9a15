/**
 * The backup agent with real restic and a real repository server over mutual TLS: a main backs up
 * its partition's declared paths after its backup command, pushes them to a second node's
 * repository server (its node certificate from the master's CA, the server's self-signed one
 * trusted as the master passes it on), and the clone there restores them into its partition, then
 * runs its restore and check commands. The master is scripted (the sync answers of both nodes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock, systemClock } from '../../core/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { openTestCertificateAuthority } from '../../testing/master-mode-services.ts';
import type { BackupAgent } from './agent.ts';
import { backupTestPartition, dataPlan, partitionScript } from '../../testing/backup-partition.ts';
import { ensureServerCertificate } from './repository-server.ts';
import { nodePemFile, resticTestAgent, serveRepositories } from '../../testing/restic-agents.ts';
import type { PartitionBackupAssignment } from './sync-protocol.ts';

const PASSWORD = 'Zm9vYmFyYmF6cXV1eC1zZWNyZXQtcGFzc3dvcmQ';

test('main → repository server over mutual TLS → clone: the files restored equal, commands run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'backup-restic-'));
  const { ca, close: closeCa } = await openTestCertificateAuthority(systemClock);
  t.after(async () => {
    await closeCa();
    await rm(dir, { recursive: true, force: true });
  });
  const root1 = await backupTestPartition(join(dir, 'node1', 'instance'), 'SOFTINST-1');
  const root2 = await backupTestPartition(join(dir, 'node2', 'instance'), 'SOFTINST-2');
  for (const root of [root1, root2]) {
    await partitionScript(root, 'dump', 'echo dumped > srv/data/dump.sql');
    await partitionScript(root, 'load', 'cat srv/data/dump.sql > srv/loaded');
    await partitionScript(root, 'check', 'grep -q dumped srv/loaded');
  }
  const files: Record<string, string> = {
    'srv/data/a.txt': 'alpha\n',
    'srv/data/nested/b.bin': '\u0000\u00ff binary \u2028 data',
  };
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(root1, path, '..'), { recursive: true });
    await writeFile(join(root1, path), text);
  }
  await writeFile(join(root2, 'srv', 'data', 'stale'), 'from before');
  const node1Pem = await nodePemFile(ca, join(dir, 'node1'), 'COMP-1');

  const plan = dataPlan({
    backupCommands: [join(root1, 'bin', 'dump')],
    restoreCommands: [join(root2, 'bin', 'load')],
    checkCommands: [join(root2, 'bin', 'check')],
  });
  const logger = silentLogger();
  const clock = fixedClock(Date.now() / 1000);
  const served: { server?: { url: string; close(): Promise<void> } } = {};
  let certificate = '';
  const assignments = (): Record<string, PartitionBackupAssignment[]> => ({
    'COMP-1': [
      {
        partition_id: 'slappart0',
        instance_guid: 'SOFTINST-1',
        repository: 'tree-17',
        password: PASSWORD,
        role: 'main',
        epoch: 0,
        targets: [{ computer_guid: 'COMP-2', url: served.server!.url, certificate }],
        writers: [],
        readers: [],
        backup_requested_at: null,
        restore_request: null,
      },
    ],
    'COMP-2': [
      {
        partition_id: 'slappart0',
        instance_guid: 'SOFTINST-2',
        repository: 'tree-17',
        password: PASSWORD,
        role: 'clone',
        epoch: 0,
        targets: [],
        writers: ['COMP-1'],
        readers: [],
        backup_requested_at: null,
        restore_request: null,
      },
    ],
  });
  const agent = (node: string, root: string): BackupAgent =>
    resticTestAgent({ dir, node, root, answers: assignments, plan, pem: node1Pem, logger, clock });
  const main = agent('COMP-1', root1);
  const clone = agent('COMP-2', root2);
  t.after(async () => {
    await main.close({ graceMs: 1000 });
    await clone.close({ graceMs: 1000 });
    await served.server?.close();
  });
  const serverCertificate = await ensureServerCertificate(join(dir, 'COMP-2', 'server'), ['127.0.0.1']);
  certificate = serverCertificate.certificatePem;
  let snapshots = 0;
  served.server = await serveRepositories({
    agent: clone,
    certificate: serverCertificate,
    clientCa: ca.caCertificatePem,
    onSnapshot: (repository) => {
      snapshots++;
      clone.onSnapshot(repository);
    },
    logger,
  });

  await clone.syncOnce(); // the clone knows its writers before anything is pushed
  await main.syncOnce();
  await main.idle();
  assert.equal(snapshots, 1, 'one snapshot stored by the server');
  await clone.idle();
  for (const [path, text] of Object.entries(files))
    assert.equal(await readFile(join(root2, path), 'utf8'), text, path);
  assert.equal(
    await readFile(join(root2, 'srv', 'data', 'dump.sql'), 'utf8'),
    'dumped\n',
    'the backup command ran first',
  );
  assert.equal(await readFile(join(root2, 'srv', 'loaded'), 'utf8'), 'dumped\n', 'the restore command ran');
  await assert.rejects(readFile(join(root2, 'srv', 'data', 'stale')), 'the path was replaced as a whole');
  const report = await clone.report();
  const restored = report.partition_list[0]?.restored;
  const mainReport = await main.report();
  assert.equal(
    restored?.backup_id,
    mainReport.partition_list[0]?.last_backup?.backup_id,
    'restored the backup taken',
  );
  assert.deepEqual(
    report.partition_list[0]?.backup_list.map((b) => b.backup_id),
    [restored?.backup_id],
  );
});
