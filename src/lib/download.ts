/**
 * Downloads with checksums and a cache, as buildout's download utility does: `file:` URLs and
 * plain paths are local resources (checked, never copied into the cache); network resources are
 * streamed through md5+sha256 hashing into a temporary file beside the target, verified, then
 * renamed into place, so a half-downloaded or corrupt file is never visible. With a cache
 * directory, files are kept there under the md5 of their URL (buildout's `hash_name`); offline
 * mode refuses the network but still serves cached files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { fetch, type Dispatcher } from 'undici';
import { SlapError } from '../core/errors.ts';
import { pathExists } from './path-exists.ts';

export interface DownloadProgress {
  url: string;
  /** Bytes received so far. */
  received: number;
  /** Content-Length when the server sent one. */
  total: number | undefined;
  done: boolean;
}

/** A networkcache for sources (see lib/networkcache/source-cache.ts); used only with an md5sum. */
export interface SourceCache {
  /** Fills `file` with the cached content of `url`; false when there is none. Never throws for a cache failure. */
  fetch(url: string, file: string, signal?: AbortSignal): Promise<boolean>;
  /** Stores `file` as the content of `url`. Never throws for a cache failure. */
  store(url: string, file: string, signal?: AbortSignal): Promise<void>;
}

export interface DownloadOptions {
  /** Where the file must end up; default: the cached file, or a temporary file (`result.temporary`). */
  destination?: string;
  /** Expected MD5 (hex). A mismatch fails and leaves nothing at the destination. */
  md5sum?: string | undefined;
  /** Expected SHA-256 (hex). */
  sha256sum?: string | undefined;
  /** Download cache directory (created if missing); files are stored as md5(url). */
  cacheDir?: string | undefined;
  /** With a cache: try the network first and fall back to the cached copy (buildout's newest mode). */
  refresh?: boolean;
  /** Refuse network access (cached and local files still work). */
  offline?: boolean;
  /** Milliseconds without receiving data before the download is abandoned (default 60 s). */
  idleTimeoutMs?: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: DownloadProgress) => void) | undefined;
  /** undici dispatcher (mTLS agent, proxy, tests). */
  dispatcher?: Dispatcher | undefined;
  /** Directory for temporary files when there is no destination and no cache (default: os tmpdir). */
  tmpDir?: string;
  /** Tried before the network and fed after it, when `md5sum` is given. */
  sourceCache?: SourceCache | undefined;
}

export interface DownloadResult {
  /** Path of the file (destination, cached copy, local resource, or a temporary file). */
  path: string;
  /** True if `path` is a temporary file the caller must delete. */
  temporary: boolean;
  fromCache: boolean;
  md5: string;
  sha256: string;
  size: number;
}

export function isUrl(text: string): boolean {
  return /^[a-zA-Z0-9+.-]+:\/\//.test(text);
}

/** The local path of a `file:` URL or plain path, or undefined for a network URL. */
export function localPath(url: string): string | undefined {
  if (url.startsWith('file:'))
    return fileURLToPath(url.startsWith('file://') ? url : `file://${url.slice(5)}`);
  if (!isUrl(url)) return url;
  return undefined;
}

export function md5Hex(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** The cache file name of a URL (buildout's `hash_name`). */
export function cacheKey(url: string): string {
  return md5Hex(url);
}

async function hashFile(path: string): Promise<{ md5: string; sha256: string; size: number }> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    md5.update(chunk);
    sha256.update(chunk);
    size += chunk.length;
  }
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex'), size };
}

function checkSums(sums: { md5: string; sha256: string }, options: DownloadOptions, what: string): void {
  const md5 = options.md5sum?.trim().toLowerCase();
  const sha = options.sha256sum?.trim().toLowerCase();
  if (md5 && md5 !== sums.md5) {
    throw new SlapError(
      'SLAP_ERR_CHECKSUM_MISMATCH',
      `MD5 checksum mismatch for ${what}: expected ${md5}, got ${sums.md5}`,
      {
        details: { expected: md5, actual: sums.md5 },
        hint: 'The file changed upstream or the checksum in the profile is wrong.',
      },
    );
  }
  if (sha && sha !== sums.sha256) {
    throw new SlapError(
      'SLAP_ERR_CHECKSUM_MISMATCH',
      `SHA-256 checksum mismatch for ${what}: expected ${sha}, got ${sums.sha256}`,
      { details: { expected: sha, actual: sums.sha256 } },
    );
  }
}

/** Places `source` at `destination` (hard link, else copy). */
async function locateAt(source: string, destination: string | undefined): Promise<string> {
  if (destination === undefined || destination === source) return source;
  await mkdir(dirname(destination), { recursive: true });
  await rm(destination, { force: true });
  try {
    await link(source, destination);
  } catch {
    await copyFile(source, destination);
  }
  return destination;
}

function tmpBeside(path: string): string {
  return join(dirname(path), `.${randomBytes(6).toString('hex')}.download`);
}

/** Streams a network URL into `target` (via a temporary file), verifying checksums. */
async function fetchTo(
  url: string,
  target: string,
  options: DownloadOptions,
): Promise<{ md5: string; sha256: string; size: number }> {
  if (options.offline) {
    throw new SlapError('SLAP_ERR_DOWNLOAD_FAILED', `Couldn't download ${url} in offline mode`, {
      hint: 'Run without offline mode (-o / buildout:offline=true), or put the file in the download cache.',
      details: { url },
    });
  }
  await mkdir(dirname(target), { recursive: true });
  const cached = await fromSourceCache(url, target, options);
  if (cached) return cached;
  const tmp = tmpBeside(target);
  const idle = options.idleTimeoutMs ?? 60_000;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  let timer = setTimeout(() => controller.abort(new Error('idle timeout')), idle);
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error('idle timeout')), idle);
  };
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let received = 0;
  try {
    let response;
    try {
      response = await fetch(url, {
        signal: controller.signal,
        redirect: 'follow',
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      });
    } catch (error) {
      throw downloadError(url, error, controller.signal);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new SlapError(
        'SLAP_ERR_DOWNLOAD_FAILED',
        `Error downloading ${url}: HTTP ${response.status} ${response.statusText}`.trim(),
        {
          details: { url, status: response.status },
        },
      );
    }
    const header = response.headers.get('content-length');
    const total = header === null ? undefined : Number(header);
    let lastReport = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        touch();
        md5.update(chunk);
        sha256.update(chunk);
        received += chunk.length;
        const now = Date.now();
        if (options.onProgress && now - lastReport >= 100) {
          lastReport = now;
          options.onProgress({ url, received, total, done: false });
        }
        callback(null, chunk);
      },
    });
    try {
      await pipeline(response.body, meter, createWriteStream(tmp, { mode: 0o644 }));
    } catch (error) {
      throw downloadError(url, error, controller.signal);
    }
    const sums = { md5: md5.digest('hex'), sha256: sha256.digest('hex'), size: received };
    checkSums(sums, options, `download of ${url}`);
    await rename(tmp, target);
    options.onProgress?.({ url, received, total, done: true });
    if (options.sourceCache && options.md5sum) await options.sourceCache.store(url, target, options.signal);
    return sums;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await rm(tmp, { force: true });
  }
}

/** The file from the source cache when it has one matching the checksums (else undefined: use the network). */
async function fromSourceCache(
  url: string,
  target: string,
  options: DownloadOptions,
): Promise<{ md5: string; sha256: string; size: number } | undefined> {
  if (!options.sourceCache || !options.md5sum) return undefined;
  const tmp = tmpBeside(target);
  try {
    if (!(await options.sourceCache.fetch(url, tmp, options.signal))) return undefined;
    const sums = await hashFile(tmp);
    try {
      checkSums(sums, options, `source cache copy of ${url}`);
    } catch {
      return undefined;
    }
    await rename(tmp, target);
    options.onProgress?.({ url, received: sums.size, total: sums.size, done: true });
    return sums;
  } finally {
    await rm(tmp, { force: true });
  }
}

function downloadError(url: string, error: unknown, signal: AbortSignal): SlapError {
  if (error instanceof SlapError) return error;
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  if (reason instanceof Error && reason.message === 'idle timeout') {
    return new SlapError(
      'SLAP_ERR_DOWNLOAD_FAILED',
      `Error downloading ${url}: no data received for too long`,
      {
        details: { url },
        cause: error,
      },
    );
  }
  if (signal.aborted) {
    return new SlapError('SLAP_ERR_DOWNLOAD_FAILED', `Download of ${url} was cancelled`, {
      details: { url },
      cause: error,
    });
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new SlapError('SLAP_ERR_DOWNLOAD_FAILED', `Error downloading ${url}: ${message}`, {
    details: { url },
    cause: error,
  });
}

/** Downloads (or finds locally or in the cache) `url`; see the module comment. */
export async function download(url: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const local = localPath(url);
  if (local !== undefined) {
    let sums;
    try {
      sums = await hashFile(local);
    } catch (error) {
      throw new SlapError(
        'SLAP_ERR_DOWNLOAD_FAILED',
        `Cannot read local resource ${local}: ${(error as Error).message}`,
        {
          details: { url },
          cause: error,
        },
      );
    }
    checkSums(sums, options, `local resource at ${local}`);
    const path = await locateAt(local, options.destination);
    return { path, temporary: false, fromCache: false, ...sums };
  }

  if (options.cacheDir) {
    await mkdir(options.cacheDir, { recursive: true });
    const cached = join(options.cacheDir, cacheKey(url));
    if (await pathExists(cached)) {
      let refreshed: Awaited<ReturnType<typeof fetchTo>> | undefined;
      if (options.refresh && !options.offline) {
        try {
          refreshed = await fetchTo(url, cached, options);
        } catch (error) {
          if (error instanceof SlapError && error.code === 'SLAP_ERR_CHECKSUM_MISMATCH') throw error;
          // the cached copy is the fallback
        }
      }
      // A fresh copy was hashed while it was fetched; only a kept one is read again.
      const sums = refreshed ?? (await hashFile(cached));
      checkSums(sums, options, `cached download of ${url} at ${cached}`);
      const path = await locateAt(cached, options.destination);
      return { path, temporary: false, fromCache: true, ...sums };
    }
    const sums = await fetchTo(url, cached, options);
    const path = await locateAt(cached, options.destination);
    return { path, temporary: false, fromCache: false, ...sums };
  }

  const temporary = options.destination === undefined;
  const target =
    options.destination ??
    join(options.tmpDir ?? tmpdir(), `slapos-download-${randomBytes(8).toString('hex')}`);
  const sums = await fetchTo(url, target, options);
  return { path: target, temporary, fromCache: false, ...sums };
}
