/**
 * Resiliency benchmark: `npm run bench -- resiliency [--size-mb 1024] [--files 4] [--no-takeover]`.
 *
 * Backups (issue 12): a data set of `--size-mb` random bytes in `--files` files, a first backup to a
 * repository server on 127.0.0.1 (HTTPS, client certificate of a test master CA, as between two
 * nodes), then 1 MiB changed in the middle of one file and a second backup. Prints the second
 * backup's time (goal < 5 s) and the bytes the server received for it (goal < 2 MB), then the
 * restore throughput (restore with verification, into a fresh directory).
 *
 * Takeover (skipped with `--no-takeover`; needs root, like the tests' networks): a master and three
 * nodes in network namespaces with the product's detection defaults (heartbeat 5 s, failover_after
 * 15 s), the kv example with two clones; prints the time from the main node's loss to the clone
 * answering (goal < 30 s) and the writes lost (src/testing/takeover-scenario.ts).
 *
 * Everything lives in a temporary directory removed at the end.
 */
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { newBackupId } from '../src/node/backup/restic.ts';
import { startBackupRepository } from '../src/testing/backup-repository.ts';
import { describeTakeover, measureTakeover } from '../src/testing/takeover-scenario.ts';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    files: { type: 'string', default: '4' },
    changes: { type: 'string', default: '3' },
    takeover: { type: 'boolean', default: true },
  },
  allowPositionals: true,
});
const sizeMb = Math.max(4, Number(values['size-mb']));
const fileCount = Math.max(1, Number(values.files));
const changes = Math.max(1, Number(values.changes));
const MB = 1024 * 1024;
const CHUNK = 16 * MB;

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const megabytes = (bytes: number): string => `${(bytes / MB).toFixed(2)} MB`;

/** Writes `size` random bytes to `path`, in chunks (random, so nothing deduplicates or compresses). */
async function randomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const buffer = Buffer.alloc(CHUNK);
    for (let written = 0; written < size; written += CHUNK) {
      const length = Math.min(CHUNK, size - written);
      randomFillSync(buffer, 0, length);
      await handle.write(buffer, 0, length);
    }
  } finally {
    await handle.close();
  }
}

const root = await mkdtemp(join(tmpdir(), 'slapos-bench-resiliency-'));
const fixture = await startBackupRepository();
try {
  const part = join(root, 'part');
  await mkdir(join(part, 'srv', 'data'), { recursive: true });
  const fileSize = Math.floor((sizeMb * MB) / fileCount);
  const made = performance.now();
  for (let i = 0; i < fileCount; i++) await randomFile(join(part, 'srv', 'data', `file-${i}.bin`), fileSize);
  process.stdout.write(
    `data set: ${fileCount} files, ${megabytes(fileSize * fileCount)} (made in ${seconds(performance.now() - made)})\n`,
  );

  const target = fixture.target('tree-1');
  await fixture.restic.init(target);
  const backup = async (label: string) => {
    const before = fixture.server.stats().bytesReceived;
    const started = performance.now();
    const summary = await fixture.restic.backup(target, {
      cwd: part,
      paths: ['srv'],
      backupId: newBackupId(),
    });
    const ms = performance.now() - started;
    const received = fixture.server.stats().bytesReceived - before;
    process.stdout.write(
      `${label}: ${seconds(ms)}, ${megabytes(received)} received by the server, restic added ${megabytes(summary.bytesAdded)}\n`,
    );
    return { ms, received };
  };
  await backup('first backup');

  // 1 MiB of new random bytes in the middle of a file, then a backup; repeated `--changes` times
  // (restic's chunks average 1 MiB, so what a change costs depends on where the chunk boundaries fall).
  const backupMs: number[] = [];
  const received: number[] = [];
  for (let round = 0; round < changes; round++) {
    const handle = await open(join(part, 'srv', 'data', `file-${round % fileCount}.bin`), 'r+');
    try {
      const change = Buffer.alloc(MB);
      randomFillSync(change);
      await handle.write(change, 0, MB, Math.floor(fileSize / 2) - round * 3 * MB);
    } finally {
      await handle.close();
    }
    const second = await backup(`backup after 1 MiB changed (${round + 1}/${changes})`);
    backupMs.push(second.ms);
    received.push(second.received);
  }
  const worstMs = Math.max(...backupMs);
  const worstBytes = Math.max(...received);
  process.stdout.write(
    `1 MiB changed, worst of ${changes}: ${seconds(worstMs)} (goal < 5 s: ${worstMs < 5000 ? 'met' : 'NOT met'}), ` +
      `${megabytes(worstBytes)} received (goal < 2 MB: ${worstBytes < 2e6 ? 'met' : 'NOT met'})\n`,
  );

  const latest = (await fixture.restic.snapshots(target)).at(-1);
  if (!latest) throw new Error('no snapshot');
  const into = join(root, 'restore');
  const started = performance.now();
  await fixture.restic.restore(target, latest.snapshotId, into);
  const ms = performance.now() - started;
  process.stdout.write(
    `restore (structure check + restore + verify): ${seconds(ms)}, ${((fileSize * fileCount) / MB / (ms / 1000)).toFixed(1)} MB/s\n`,
  );

  if (values.takeover) {
    process.stdout.write(
      'takeover: a master and three nodes in network namespaces, the kv example with two clones…\n',
    );
    const figures = await measureTakeover();
    process.stdout.write(`${describeTakeover(figures)}\n`);
  }
} finally {
  await fixture.close();
  await rm(root, { recursive: true, force: true });
}
