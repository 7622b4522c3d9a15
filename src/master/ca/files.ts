/**
 * The certificate authority's directory: created 0700, key files 0600. Reading refuses what another
 * user could have written or read (not ours, group/world bits, symlinks), so a key is never trusted
 * or used once it may have leaked. Messages name files, never their content.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

export const CA_FILES = {
  caKey: 'ca.key',
  caCertificate: 'ca.crt',
  serverKey: 'server.key',
  serverCertificate: 'server.crt',
} as const;

const MAX_FILE_BYTES = 64 * 1024;

function configError(message: string, cause?: unknown): SlapError {
  return new SlapError('SLAP_ERR_CONFIG', message, cause === undefined ? {} : { cause });
}

function currentUid(): number | undefined {
  return process.getuid?.();
}

/** Creates `dir` 0700 when missing; refuses one that is not a directory, not ours, or writable by others. */
export async function prepareDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory())
    throw configError(`The certificate authority directory ${dir} is not a directory.`);
  const uid = currentUid();
  if (uid !== undefined && info.uid !== uid) {
    throw configError(`The certificate authority directory ${dir} is not owned by the current user.`);
  }
  if ((info.mode & 0o022) !== 0) {
    throw configError(
      `The certificate authority directory ${dir} is writable by group or others (chmod 700 it).`,
    );
  }
}

/**
 * The text of `dir/name`, or undefined when it does not exist. `secret` files must be ours and
 * without group/world bits. Never follows a symlink; checks the opened file itself.
 */
export async function readCaFile(dir: string, name: string, secret: boolean): Promise<string | undefined> {
  const path = join(dir, name);
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP')
      throw configError(`${path} is a symbolic link; the certificate authority refuses it.`);
    throw configError(`${path} cannot be read (${code ?? 'error'}).`, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw configError(`${path} is not a regular file.`);
    const uid = currentUid();
    if (uid !== undefined && info.uid !== uid) throw configError(`${path} is not owned by the current user.`);
    if (secret && (info.mode & 0o077) !== 0) {
      throw configError(`${path} is readable or writable by group or others: it must be mode 0600.`);
    }
    if (info.size > MAX_FILE_BYTES) throw configError(`${path} is too large to be a key or certificate.`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Writes `dir/name` atomically: 0600 for keys, 0644 for certificates. */
export async function writeCaFile(dir: string, name: string, text: string, secret: boolean): Promise<void> {
  await writeFileAtomic(join(dir, name), text, { mode: secret ? 0o600 : 0o644, mkdirs: false });
}
