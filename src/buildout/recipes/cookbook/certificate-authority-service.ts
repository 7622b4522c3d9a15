/**
 * The certificate authority service of `slapos.cookbook:certificate_authority` (run by its wrapper
 * through certificate-authority-main.ts), with the original's files and openssl commands:
 *
 * - the CA: when its key or certificate is missing, both are (re)made with
 *   `openssl req -utf8 -nodes -config CONF -new -sha256 -x509 -extensions v3_ca -keyout KEY -out
 *   CERT -days 10950`, the common name `Certificate Authority <uuid>` given on stdin;
 * - each request file of the requests directory (`[certificate]` with `name`, `key_file`,
 *   `certificate_file`, as certificate_authority.request writes it) whose key or certificate is
 *   missing gets a key and a CSR (`openssl req -config CONF -nodes -new -sha256 -keyout KEY -out
 *   CSR -days 3650`, the name on stdin) signed with `openssl ca -batch -config CONF -out CERT
 *   -infiles CSR`; the CSR is removed, and so is a half-made pair on failure.
 *
 * Then it waits (60 s, or until the requests directory changes) and starts again.
 */
import { execFile as execFileCallback } from 'node:child_process';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

export interface CertificateAuthorityOptions {
  key: string;
  certificate: string;
  openssl: string;
  config: string;
  requestDir: string;
  /** Reports what was done (the original prints `Created certificate 'name'`). */
  log?: (line: string) => void;
}

export interface CertificateRequest {
  name: string;
  keyFile: string;
  certificateFile: string;
}

function openssl(options: CertificateAuthorityOptions, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFileCallback(options.openssl, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${[options.openssl, ...args].join(' ')} failed:\n${stdout}${stderr}`));
      else resolve();
    });
    child.stdin?.end(input ?? '');
  });
}

async function removeAll(paths: string[]): Promise<void> {
  await Promise.all(paths.map((path) => rm(path, { force: true }).catch(() => undefined)));
}

/** Makes the CA unless its key and certificate both exist; returns true if it made it. */
export async function checkAuthority(options: CertificateAuthorityOptions): Promise<boolean> {
  const files = [options.key, options.certificate];
  if (files.every((file) => existsSync(file))) return false;
  await removeAll(files);
  try {
    await openssl(
      options,
      [
        'req',
        '-utf8',
        '-nodes',
        '-config',
        options.config,
        '-new',
        '-sha256',
        '-x509',
        '-extensions',
        'v3_ca',
      ].concat(['-keyout', options.key, '-out', options.certificate, '-days', '10950']),
      `Certificate Authority ${randomUUID()}\n`,
    );
  } catch (error) {
    await removeAll(files);
    throw error;
  }
  return true;
}

/** The `[certificate]` section of a request file (configparser syntax, one-line values). */
export function parseRequest(text: string): CertificateRequest | undefined {
  const values = new Map<string, string>();
  let inSection = false;
  for (const line of text.split(/\r\n|\r|\n/)) {
    const section = /^\[([^\]]*)\]/.exec(line);
    if (section) {
      inSection = section[1] === 'certificate';
      continue;
    }
    if (!inSection || /^\s/.test(line) || /^[#;]/.test(line)) continue;
    const match = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (match) values.set((match[1] as string).toLowerCase(), (match[2] as string).trim());
  }
  const name = values.get('name');
  const keyFile = values.get('key_file');
  const certificateFile = values.get('certificate_file');
  if (name === undefined || !keyFile || !certificateFile) return undefined;
  return { name, keyFile, certificateFile };
}

/** Issues the certificate of a request unless its key and certificate both exist. */
export async function checkCertificate(
  options: CertificateAuthorityOptions,
  request: CertificateRequest,
): Promise<boolean> {
  const files = [request.keyFile, request.certificateFile];
  if (files.every((file) => existsSync(file))) return false;
  await removeAll(files);
  const csr = `${request.certificateFile}.csr`;
  try {
    await openssl(
      options,
      [
        'req',
        '-config',
        options.config,
        '-nodes',
        '-new',
        '-sha256',
        '-keyout',
        request.keyFile,
        '-out',
        csr,
      ],
      `${request.name}\n`,
    );
    try {
      await openssl(options, [
        'ca',
        '-batch',
        '-config',
        options.config,
        '-out',
        request.certificateFile,
        '-infiles',
        csr,
      ]);
    } finally {
      await rm(csr, { force: true });
    }
  } catch (error) {
    await removeAll(files);
    throw error;
  }
  return true;
}

/** One pass: the CA, then every request (a failing request is reported, the others still done). */
export async function checkRequestDir(options: CertificateAuthorityOptions): Promise<void> {
  for (const entry of (await readdir(options.requestDir)).sort()) {
    const text = await readFile(join(options.requestDir, entry), 'utf8').catch(() => undefined);
    const request = text === undefined ? undefined : parseRequest(text);
    if (request === undefined) {
      options.log?.(`Ignored ${entry}: not a certificate request`);
      continue;
    }
    try {
      if (await checkCertificate(options, request))
        options.log?.(`Created certificate ${JSON.stringify(request.name)}`);
    } catch (error) {
      options.log?.(
        `Cannot create the certificate ${JSON.stringify(request.name)}: ${(error as Error).message}`,
      );
    }
  }
}

/** Runs passes until `signal` aborts: every `intervalMs`, or soon after the requests directory changes. */
export async function runCertificateAuthority(
  options: CertificateAuthorityOptions,
  signal: AbortSignal,
  intervalMs = 60_000,
): Promise<void> {
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(options.requestDir, () => wake?.());
  } catch {
    // No inotify: the periodic pass still runs.
  }
  signal.addEventListener('abort', () => wake?.(), { once: true });
  try {
    while (!signal.aborted) {
      await checkAuthority(options);
      await checkRequestDir(options);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          setTimeout(resolve, 200); // let the writer finish the file
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}
