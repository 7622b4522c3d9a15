/**
 * Binary cache benchmark (`npm run bench -- cache [runs] [--mb N]`, default 3 runs of a 50 MB
 * software directory): a software release installed from the binary cache, as `node software`
 * does it (shadir lookup, signature check, blob download through sha512, archive check, unpack,
 * rename into place), from a cache server in its own process on 127.0.0.1. The directory is half
 * random bytes (a few large files and a hundred small ones: gzip cannot shrink them) and half
 * compressible text in 10 KB files (some executable, some symlinks).
 *
 * Printed: the directory and blob sizes, the upload once (tar.gz + blob + signed entry), then per
 * run the whole install, and its parts apart: the download (blob bytes / s), the archive check
 * (members listed and checked, blob bytes / s) and the unpack by GNU tar (directory bytes / s).
 * Beside each wall time, the CPU time it took (this process, its children and the cache server's
 * process, from /proc): on a loaded machine the wall time also counts waiting for a core.
 * Goal: the whole install under 2 s.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { binaryEntryKey } from '../src/core/networkcache/entry.ts';
import { inspectTarArchive } from '../src/lib/archive.ts';
import { execFile } from '../src/lib/exec.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { NetworkcacheClient } from '../src/lib/networkcache/client.ts';
import { readNetworkcacheOptions } from '../src/lib/networkcache/options.ts';
import {
  installFromBinaryCache,
  localMachineInfo,
  uploadToBinaryCache,
  type BinaryCacheContext,
} from '../src/node/software/cache/binary-cache.ts';
import { createSigningIdentity } from '../src/standalone/cache-signature.ts';

const args = process.argv.slice(2);
const runs = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 3);
const mbIndex = args.indexOf('--mb');
const totalMb = mbIndex < 0 ? 50 : Number(args[mbIndex + 1]);
const MB = 1024 * 1024;
const URL_OF_RELEASE = 'https://lab.example.com/software/bench/software.cfg';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

const mbps = (bytes: number, ms: number): string => `${(bytes / MB / (ms / 1000)).toFixed(0)} MB/s`;

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU milliseconds (user + system) of `pid` and, with `children`, of its waited-for children (/proc). */
function procCpuMs(pid: number | 'self', children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  // After the command: state is field 3; utime 14, stime 15, cutime 16, cstime 17 (1-based).
  const at = (field: number): number => Number(fields[field - 3]);
  const ticks = at(14) + at(15) + (children ? at(16) + at(17) : 0);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Wall and CPU time of `work`: this process with its children, and the cache server's process. */
async function timed<T>(
  serverPid: number,
  work: () => Promise<T>,
): Promise<{ value: T; wallMs: number; cpuMs: number }> {
  const cpuBefore = procCpuMs('self', true) + procCpuMs(serverPid);
  const started = performance.now();
  const value = await work();
  const wallMs = performance.now() - started;
  return { value, wallMs, cpuMs: procCpuMs('self', true) + procCpuMs(serverPid) - cpuBefore };
}

/** Writes the software directory: half random, half compressible text; returns its size in bytes. */
async function writeSoftwareDirectory(directory: string): Promise<number> {
  const half = (totalMb * MB) / 2;
  let bytes = 0;
  await mkdir(join(directory, 'lib'), { recursive: true });
  // Random: four large files, then 100 KB ones.
  let written = 0;
  for (let i = 0; written < half; i++) {
    const size = Math.min(i < 4 ? 4 * MB : 100 * 1024, half - written);
    await writeFile(join(directory, 'lib', `blob-${i}.so`), randomBytes(size));
    written += size;
  }
  bytes += written;
  // Compressible: text in 10 KB files, 100 per directory.
  written = 0;
  for (let i = 0; written < half; i++) {
    const sub = join(directory, 'share', `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(sub, { recursive: true });
    const line = `line of file ${i}: the quick brown fox jumps over the lazy dog ${i % 7}\n`;
    const text = line
      .repeat(Math.ceil((10 * 1024) / line.length))
      .slice(0, Math.min(10 * 1024, half - written));
    const file = join(sub, `f${i}.txt`);
    await writeFile(file, text);
    if (i % 10 === 0) await chmod(file, 0o755);
    if (i % 50 === 0) await symlink(`f${i}.txt`, join(sub, `link${i}`));
    written += text.length;
  }
  bytes += written;
  return bytes;
}

const root = await mkdtemp(join(tmpdir(), 'bench-cache-'));
const server = fork(fileURLToPath(new URL('./_cache-process.ts', import.meta.url)), [join(root, 'cache')], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
try {
  const urls = await new Promise<{ shacacheUrl: string; shadirUrl: string; tokenFile: string }>(
    (resolve, reject) => {
      server.once('message', (message) =>
        resolve(message as { shacacheUrl: string; shadirUrl: string; tokenFile: string }),
      );
      server.once('exit', (code) => reject(new Error(`the cache server exited with ${code}`)));
    },
  );
  const signer = await createSigningIdentity('bench');
  const keyFile = join(root, 'signer.key');
  await writeFile(keyFile, signer.keyPem, { mode: 0o600 });
  const options = readNetworkcacheOptions(
    {
      'download-binary-cache-url': urls.shacacheUrl,
      'download-binary-dir-url': urls.shadirUrl,
      'upload-binary-cache-url': urls.shacacheUrl,
      'upload-binary-dir-url': urls.shadirUrl,
      'upload-token-file': urls.tokenFile,
      'signature-private-key-file': keyFile,
      'signature-certificate-list': signer.certificatePem,
    },
    join(root, 'slapos.cfg'),
  );
  const softwareRoot = join(root, 'soft');
  const key = binaryEntryKey(URL_OF_RELEASE);
  const directory = join(softwareRoot, key);
  const context: BinaryCacheContext = {
    options,
    url: URL_OF_RELEASE,
    softwareRoot,
    directory,
    machine: await localMachineInfo(),
    logger: silentLogger(),
  };
  const softwareBytes = await writeSoftwareDirectory(directory);
  const started = performance.now();
  const upload = await uploadToBinaryCache(context);
  if (!upload.uploaded) throw new Error(`upload failed: ${upload.reason}`);
  const uploadMs = performance.now() - started;
  const blobBytes = (await stat(join(root, 'cache', 'blobs', upload.sha512.slice(0, 2), upload.sha512))).size;
  console.log(
    `software directory ${(softwareBytes / MB).toFixed(1)} MB (half random, half text), blob (tar.gz) ${(blobBytes / MB).toFixed(1)} MB`,
  );
  console.log(`upload once (tar.gz, blob, signed entry): ${uploadMs.toFixed(0)} ms`);

  const serverPid = server.pid ?? 0;
  const totals: number[] = [];
  const totalCpu: number[] = [];
  const downloads: number[] = [];
  const checks: number[] = [];
  const unpacks: number[] = [];
  for (let run = 0; run < runs; run++) {
    await rm(directory, { recursive: true, force: true });
    const install = await timed(serverPid, () => installFromBinaryCache(context));
    if (!install.value.installed) throw new Error(`not installed: ${install.value.reasons.join('; ')}`);
    totals.push(install.wallMs);
    totalCpu.push(install.cpuMs);

    // Its parts apart: the download through sha512, the archive check, the unpack (GNU tar).
    const work = join(root, `work-${run}`);
    await mkdir(join(work, 'unpacked'), { recursive: true });
    const blob = join(work, 'blob.tar.gz');
    const client = new NetworkcacheClient(options.binaryDownload ?? { cacheUrl: '', dirUrl: '' }, options);
    const download = await timed(serverPid, () => client.downloadBlob(upload.sha512, blob));
    await client.close();
    const check = await timed(serverPid, () =>
      inspectTarArchive(blob, { topDirectory: key, absoluteRoot: directory }),
    );
    const unpack = await timed(serverPid, () =>
      execFile('tar', ['-xf', blob, '-C', join(work, 'unpacked'), '--no-same-owner'], { timeoutMs: 600_000 }),
    );
    downloads.push(download.wallMs);
    checks.push(check.wallMs);
    unpacks.push(unpack.wallMs);
    await rm(work, { recursive: true, force: true });
    const ms = (part: { wallMs: number; cpuMs: number }): string =>
      `${part.wallMs.toFixed(0)} ms (CPU ${part.cpuMs.toFixed(0)} ms)`;
    console.log(
      `run ${run + 1}: install ${ms(install)}; apart: download ${ms(download)}, check ${ms(check)}, unpack ${ms(unpack)}`,
    );
  }
  const total = median(totals);
  console.log(
    `median of ${runs}: install from cache ${total.toFixed(0)} ms, CPU ${median(totalCpu).toFixed(0)} ms ` +
      `(goal < 2000 ms: ${total < 2000 ? 'met' : 'NOT met'}); download ${mbps(blobBytes, median(downloads))} (blob), ` +
      `check ${mbps(blobBytes, median(checks))} (blob), unpack ${mbps(softwareBytes, median(unpacks))} (directory)`,
  );
  console.log(
    `load average during the runs: ${loadavg()
      .map((value) => value.toFixed(1))
      .join(' ')} (${cpus().length} cores)`,
  );
} finally {
  server.send({ kind: 'close' });
  await new Promise((resolve) => server.once('exit', resolve));
  await rm(root, { recursive: true, force: true });
}
