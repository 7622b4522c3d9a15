/**
 * Unpacking archives with the system's GNU tar (gzip, bzip2, xz, zstd or plain; the `tar` npm
 * package cannot read .tar.xz) and `unzip`. Members are listed first and the archive is refused
 * before anything is written when one would land outside the destination: an absolute path or a
 * `..` component, a hard link to such a path, a symbolic link whose target leaves the destination
 * (absolute targets are allowed only inside `absoluteRoot`), a member under a symbolic link of the
 * archive, or a device file or FIFO. Owners are
 * never restored (`--no-same-owner`).
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SlapError } from '../core/errors.ts';
import { execFile, type ExecOptions, type ExecResult } from './exec.ts';
import { listTarMembers, type TarMember } from './tar-members.ts';

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
  /** Every tar member must be this directory or lie under it (e.g. a software archive's `<md5>`). */
  topDirectory?: string | undefined;
  /**
   * Where the destination will finally live, for absolute symbolic link targets: one inside it is
   * allowed (a software directory links to itself by absolute path); without it, none is.
   */
  absoluteRoot?: string | undefined;
}

/** Detects the archive format from the first bytes (and the name as a fallback). */
export async function detectArchiveFormat(file: string, nameHint = file): Promise<ArchiveFormat> {
  const head = await readHead(file);
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  const compressed = compressionOf(head) !== undefined;
  if (compressed || head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  if (/\.zip$/i.test(nameHint)) return 'zip';
  if (/\.(tar|tgz|tbz2?|txz|tar\.\w+)$/i.test(nameHint)) return 'tar';
  throw new SlapError(
    'SLAP_ERR_INVALID_INPUT',
    `Not a supported archive (tar, tar.gz, tar.bz2, tar.xz, zip): ${nameHint}`,
  );
}

function refuse(archive: string, name: string, why: string): never {
  throw new SlapError(
    'SLAP_ERR_INVALID_INPUT',
    `Refusing to unpack ${archive}: member ${JSON.stringify(name)} ${why}`,
  );
}

function escapes(path: string): boolean {
  const clean = path.replace(/^(\.\/)+/, '');
  return clean.startsWith('/') || clean.split('/').includes('..');
}

function underTop(path: string, top: string | undefined): boolean {
  if (top === undefined) return true;
  const clean = posix.normalize(path.replace(/^(\.\/)+/, '')).replace(/\/$/, '');
  return clean === top || clean.startsWith(`${top}/`);
}

function checkMembers(names: string[], archive: string): void {
  for (const name of names) if (escapes(name)) refuse(archive, name, 'points outside the destination');
}

/** The rules of the header comment, applied to a tar's members. */
export function checkTarMembers(
  members: readonly TarMember[],
  archive: string,
  options: ExtractOptions = {},
): void {
  const top = options.topDirectory;
  const symlinks = new Set<string>();
  const clean = (path: string): string => posix.normalize(path.replace(/^(\.\/)+/, '')).replace(/\/$/, '');
  for (const member of members) {
    const { name, linkName } = member;
    if (escapes(name)) refuse(archive, name, 'points outside the destination');
    // Written through a link the archive made: where it lands is the link's business, not ours.
    const parts = clean(name).split('/');
    for (let depth = 1; depth < parts.length; depth++)
      if (symlinks.has(parts.slice(0, depth).join('/')))
        refuse(
          archive,
          name,
          `lies under the symbolic link ${JSON.stringify(parts.slice(0, depth).join('/'))}`,
        );
    if (member.type === 'symlink') symlinks.add(clean(name));
    if (!underTop(name, top)) refuse(archive, name, `is not under ${JSON.stringify(top)}`);
    if (member.type === 'char-device' || member.type === 'block-device' || member.type === 'fifo')
      refuse(archive, name, `is a ${member.type}`);
    if (member.type === 'other')
      refuse(archive, name, `has an unsupported type ${JSON.stringify(member.flag)}`);
    if (member.type === 'hardlink' && (escapes(linkName) || !underTop(linkName, top)))
      refuse(archive, name, `is a hard link to ${JSON.stringify(linkName)}, outside the destination`);
    if (member.type === 'symlink') {
      const root = options.absoluteRoot;
      const inside = linkName.startsWith('/')
        ? root !== undefined &&
          (posix.normalize(linkName) === root || posix.normalize(linkName).startsWith(`${root}/`))
        : (() => {
            const target = posix.normalize(posix.join(posix.dirname(name.replace(/\/$/, '')), linkName));
            return !escapes(target) && target !== '..' && underTop(target, top);
          })();
      if (!inside)
        refuse(archive, name, `is a symbolic link to ${JSON.stringify(linkName)}, outside the destination`);
    }
  }
}

type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** The compression a file's first bytes announce (their magic numbers), if any. */
function compressionOf(head: Buffer): Compression | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  return undefined;
}

/** The decompressed content of a tar file, through zlib or the system's decompressor. */
function tarStream(archive: string, head: Buffer): Readable {
  const file = createReadStream(archive);
  const compression = compressionOf(head);
  if (compression === undefined) return file;
  if (compression === 'gzip') return file.pipe(createGunzip());
  file.destroy();
  const child = spawn(compression, ['-dc', archive], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', (error) => child.stdout.destroy(error));
  return child.stdout;
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(512);
  try {
    await handle.read(head, 0, 512, 0);
  } finally {
    await handle.close();
  }
  return head;
}

/** Lists and judges a tar archive's members (see checkTarMembers). */
export async function inspectTarArchive(archive: string, options: ExtractOptions = {}): Promise<TarMember[]> {
  let members: TarMember[];
  try {
    members = await listTarMembers(tarStream(archive, await readHead(archive)));
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `Cannot read ${archive} as a tar archive: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  checkTarMembers(members, archive, options);
  return members;
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
  await inspectTarArchive(archive, options);
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
