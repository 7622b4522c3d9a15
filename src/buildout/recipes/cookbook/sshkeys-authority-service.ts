/**
 * The service a `slapos.cookbook:sshkeys_authority` wrapper runs (the original's
 * `sshkeys_authority` function): for every request file of the request directory — those there
 * at start, then each one written later — a JSON `{"private_key", "public_key", "type"?,
 * "size"?}`, it makes the key pair when the private key is missing, and the public key file when
 * it is missing (`<keygen> -f <private> -y`, the `ssh-…=` part of its output). A request that
 * cannot be read or lacks a path is logged and skipped (the original stops there).
 *
 * OpenSSH's `ssh-keygen -N '' -C '' -t <type> -f <private> -b <size>`, or dropbear's `dropbearkey
 * -t <type> -f <private> -s <size>`: OpenSSH when the binary's path contains `openssh` (the
 * original's rule) or its name is `ssh-keygen` (Debian's, at /usr/bin/ssh-keygen).
 */
import { execFile as execFileCallback } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const execFile = promisify(execFileCallback);

export interface SshkeysAuthorityOptions {
  requestDir: string;
  keygen: string;
  log: (line: string) => void;
}

interface KeyRequest {
  privateKey: string;
  publicKey: string;
  type: string;
  size: string;
}

function parseRequest(text: string): KeyRequest | undefined {
  const value = JSON.parse(text) as Record<string, unknown>;
  const privateKey = value.private_key;
  const publicKey = value.public_key;
  if (typeof privateKey !== 'string' || typeof publicKey !== 'string') return undefined;
  const type = typeof value.type === 'string' ? value.type : 'rsa';
  const size = typeof value.size === 'number' || typeof value.size === 'string' ? String(value.size) : '4096';
  return { privateKey, publicKey, type, size };
}

export function isOpenssh(keygen: string): boolean {
  return keygen.includes('openssh') || basename(keygen) === 'ssh-keygen';
}

/** The `ssh-…=` part of `keygen -y`'s output (the original's regular expression), or ''. */
export function publicKeyLine(output: string): string {
  for (const line of output.split('\n')) {
    const match = /^ssh-.*?=+/.exec(line);
    if (match) return match[0];
  }
  return '';
}

/** Makes what one request asks for; idempotent. */
export async function processRequest(file: string, keygen: string): Promise<void> {
  const request = parseRequest(await readFile(file, 'utf8'));
  if (!request) throw new Error('the request has no private_key or public_key');
  const { privateKey, publicKey, type, size } = request;
  if (!existsSync(privateKey)) {
    if (existsSync(publicKey)) await unlink(publicKey);
    const args = isOpenssh(keygen)
      ? ['-N', '', '-C', '', '-t', type, '-f', privateKey, '-b', size]
      : ['-t', type, '-f', privateKey, '-s', size];
    await execFile(keygen, args);
  }
  if (!existsSync(publicKey)) {
    const { stdout } = await execFile(keygen, ['-f', privateKey, '-y'], { encoding: 'utf8' });
    await writeFile(publicKey, publicKeyLine(stdout));
  }
}

/** Processes the requests there, then those written later, until `signal` aborts. */
export async function runSshkeysAuthority(
  options: SshkeysAuthorityOptions,
  signal: AbortSignal,
): Promise<void> {
  let wake: (() => void) | undefined;
  let pending = true;
  const watcher = watch(options.requestDir, { signal }, () => {
    pending = true;
    wake?.();
  });
  watcher.on('error', () => undefined);
  while (!signal.aborted) {
    if (pending) {
      pending = false;
      for (const name of (await readdir(options.requestDir)).sort()) {
        const file = join(options.requestDir, name);
        try {
          await processRequest(file, options.keygen);
        } catch (error) {
          options.log(`${file}: ${(error as Error).message}`);
        }
      }
    }
    // Watch events may be lost (a full queue, some file systems): rescan now and then.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        pending = true;
        resolve();
      }, 5000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
      signal.addEventListener('abort', wake, { once: true });
    });
  }
}
