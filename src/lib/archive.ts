/**
 * Unpacking archives with the system's GNU tar (gzip, bzip2, xz, zstd or plain; the `tar` npm
 * package cannot read .tar.xz) and `unzip`. Member names are listed first and an archive with an
 * absolute path or a `..` component is refused before anything is written; owners are never
 * restored (`--no-same-owner`).
 */
import { open, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { execFile, type ExecOptions, type ExecResult } from './exec.ts';

export type ArchiveFormat = 'tar' | 'zip';

type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export interface ExtractOptions {
  /** Process runner (default `execFile`). */
  exec?: Exec;
  signal?: AbortSignal | undefined;
  /** A file name hinting the format when the content is ambiguous. */
  nameHint?: string | undefined;
  /** Milliseconds before tar/unzip is stopped (default 30 min). */
  timeoutMs?: number;
}

/** Detects the archive format from the first bytes (and the name as a fallback). */
export async function detectArchiveFormat(file: string, nameHint = file): Promise<ArchiveFormat> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(512);
  try {
    await handle.read(head, 0, 512, 0);
  } finally {
    await handle.close();
  }
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  const compressed =
    (head[0] === 0x1f && head[1] === 0x8b) ||
    head.subarray(0, 3).toString('latin1') === 'BZh' ||
    head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ||
    head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  if (compressed || head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  if (/\.zip$/i.test(nameHint)) return 'zip';
  if (/\.(tar|tgz|tbz2?|txz|tar\.\w+)$/i.test(nameHint)) return 'tar';
  throw new SlapError(
    'SLAP_ERR_INVALID_INPUT',
    `Not a supported archive (tar, tar.gz, tar.bz2, tar.xz, zip): ${nameHint}`,
  );
}

function checkMembers(names: string[], archive: string): void {
  for (const name of names) {
    const clean = name.replace(/^\.\//, '');
    if (clean.startsWith('/') || clean.split('/').includes('..')) {
      throw new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        `Refusing to unpack ${archive}: member ${JSON.stringify(name)} points outside the destination`,
      );
    }
  }
}

async function run(
  exec: Exec,
  file: string,
  args: string[],
  options: ExtractOptions,
  what: string,
): Promise<string> {
  let result: ExecResult;
  try {
    result = await exec(file, args, {
      timeoutMs: options.timeoutMs ?? 30 * 60_000,
      maxOutputBytes: 64 * 1024 * 1024,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    throw new SlapError('SLAP_ERR_INTERNAL', `Cannot run ${file} to ${what}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (result.exitCode !== 0) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `Cannot ${what}: ${file} exited with ${result.exitCode ?? result.signal}: ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Unpacks `archive` into the existing directory `destination`. */
export async function extractArchive(
  archive: string,
  destination: string,
  options: ExtractOptions = {},
): Promise<void> {
  const exec = options.exec ?? execFile;
  const format = await detectArchiveFormat(archive, options.nameHint ?? archive);
  if (format === 'zip') {
    const listing = await run(exec, 'unzip', ['-Z1', archive], options, `list ${archive}`);
    checkMembers(
      listing.split('\n').filter((l) => l !== ''),
      archive,
    );
    await run(exec, 'unzip', ['-q', '-o', archive, '-d', destination], options, `unpack ${archive}`);
    return;
  }
  const listing = await run(exec, 'tar', ['-tf', archive], options, `list ${archive}`);
  checkMembers(
    listing.split('\n').filter((l) => l !== ''),
    archive,
  );
  await run(
    exec,
    'tar',
    ['-xf', archive, '-C', destination, '--no-same-owner'],
    options,
    `unpack ${archive}`,
  );
}

/** If `directory` holds exactly one entry and it is a directory, moves its content up one level. */
export async function stripTopLevelDirectory(directory: string): Promise<boolean> {
  const entries = await readdir(directory, { withFileTypes: true });
  if (entries.length !== 1 || !entries[0]?.isDirectory()) return false;
  const top = join(directory, entries[0].name);
  const moved = join(directory, `.strip-${process.pid}-${Date.now()}`);
  await rename(top, moved);
  for (const entry of await readdir(moved)) await rename(join(moved, entry), join(directory, entry));
  await rmdir(moved).catch(async () => rm(moved, { recursive: true, force: true }));
  return true;
}
