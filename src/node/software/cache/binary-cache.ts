/**
 * Software releases through the binary cache (node.md §3.5). Before building: look up the
 * release's shadir key (md5 of its URL), take the first entry that is signed by a trusted
 * certificate and built for this machine, download its blob through sha512, check the archive's
 * members (all under `<md5>/`, nothing leaving it) and unpack it beside the software directory,
 * then rename it into place. Every refusal is a reason; the caller builds instead. After a build:
 * a tar.gz of the software directory (arcname `<md5>`) and a signed entry, retried a few times with
 * a bounded backoff; an upload failure never fails the build.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { SlapError } from '../../../core/errors.ts';
import { binaryEntryJson, binaryEntryKey, parseBinaryEntry } from '../../../core/networkcache/entry.ts';
import {
  isCompatible,
  matchingPrefix,
  multiarchFor,
  osTripleFromOsRelease,
  type MachineInfo,
} from '../../../core/networkcache/platform.ts';
import { extractArchive } from '../../../lib/archive.ts';
import { execFile } from '../../../lib/exec.ts';
import type { Logger } from '../../../lib/logger.ts';
import { pathExists } from '../../../lib/path-exists.ts';
import { displayUrl, NetworkcacheClient } from '../../../lib/networkcache/client.ts';
import type { NetworkcacheOptions } from '../../../lib/networkcache/options.ts';

/** This machine's `gcc -dumpmachine` and distribution triple (without running gcc). */
export async function localMachineInfo(osReleaseFile = '/etc/os-release'): Promise<MachineInfo> {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const libc = report?.header?.glibcVersionRuntime === undefined ? 'musl' : 'gnu';
  const multiarch = multiarchFor(process.arch, libc) ?? `${process.arch}-linux-${libc}`;
  const text = await readFile(osReleaseFile, 'utf8').catch(() => '');
  return { multiarch, os: osTripleFromOsRelease(text) };
}

export interface BinaryCacheContext {
  readonly options: NetworkcacheOptions;
  readonly url: string;
  readonly softwareRoot: string;
  /** `<softwareRoot>/<md5(url)>`. */
  readonly directory: string;
  readonly machine: MachineInfo;
  readonly logger: Logger;
  readonly signal?: AbortSignal | undefined;
  /** Tests: the HTTP dispatcher. */
  readonly dispatcher?: Dispatcher | undefined;
}

export type BinaryInstallResult =
  | { readonly installed: true; readonly cacheUrl: string; readonly sha512: string; readonly bytes: number }
  | { readonly installed: false; readonly reasons: readonly string[] };

function clientFor(
  context: BinaryCacheContext,
  endpoints: NonNullable<NetworkcacheOptions['binaryDownload']>,
): NetworkcacheClient {
  return new NetworkcacheClient(endpoints, {
    ...context.options,
    ...(context.dispatcher ? { dispatcher: context.dispatcher } : {}),
  });
}

/**
 * Removes what an interrupted download or upload of this release left in the software root (one
 * release is processed at a time, under the node's lock, so none is in use).
 */
async function removeStaleWork(softwareRoot: string, key: string): Promise<void> {
  const names = await readdir(softwareRoot).catch(() => [] as string[]);
  for (const name of names)
    if (name.startsWith(`.binary-cache-${key}-`) || name.startsWith(`.binary-upload-${key}-`))
      await rm(join(softwareRoot, name), { recursive: true, force: true });
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Installs `context.directory` (which must not exist) from the binary cache, or says why not. */
export async function installFromBinaryCache(context: BinaryCacheContext): Promise<BinaryInstallResult> {
  const { options, url, directory, logger } = context;
  const endpoints = options.binaryDownload;
  if (endpoints === undefined)
    return { installed: false, reasons: ['no binary cache configured for download'] };
  const blacklisted = matchingPrefix(url, options.downloadBlacklist);
  if (blacklisted !== undefined)
    return {
      installed: false,
      reasons: [`the URL matches download-from-binary-cache-url-blacklist entry ${blacklisted}`],
    };
  const key = binaryEntryKey(url);
  await removeStaleWork(context.softwareRoot, key);
  const client = clientFor(context, endpoints);
  const reasons: string[] = [];
  try {
    const listing = await client.entries(key, context.signal);
    reasons.push(...listing.skipped);
    if (listing.pairs.length === 0) reasons.push(`no entry under ${key} in ${displayUrl(endpoints.dirUrl)}`);
    for (const [index, pair] of listing.pairs.entries()) {
      if (pair.signer === undefined) {
        reasons.push(
          `entry ${index}: its signature does not verify against signature-certificate-list (bad signature or unknown signer)`,
        );
        continue;
      }
      const entry = parseBinaryEntry(pair.entryJson);
      if (!entry.ok) {
        reasons.push(`entry ${index}: ${entry.reason}`);
        continue;
      }
      if (entry.value.softwareUrl !== undefined && entry.value.softwareUrl !== url) {
        reasons.push(`entry ${index}: it is for another software release`);
        continue;
      }
      if (!isCompatible(context.machine, entry.value)) {
        reasons.push(
          `entry ${index}: built for ${entry.value.multiarch} ${entry.value.os.join(' ')}, not this machine`,
        );
        continue;
      }
      try {
        const bytes = await unpackBlob(context, client, entry.value.sha512, key);
        logger.info(
          { sha512: entry.value.sha512, signer: pair.signer.subject, bytes },
          'software release installed from binary cache',
        );
        return {
          installed: true,
          cacheUrl: displayUrl(endpoints.cacheUrl),
          sha512: entry.value.sha512,
          bytes,
        };
      } catch (error) {
        if (context.signal?.aborted) throw error;
        reasons.push(`entry ${index}: ${reasonOf(error)}`);
      }
    }
  } catch (error) {
    if (context.signal?.aborted) throw error;
    reasons.push(reasonOf(error));
  } finally {
    await client.close();
  }
  if (await pathExists(directory)) reasons.push(`${directory} exists`);
  return { installed: false, reasons };
}

/** Downloads, checks and unpacks one blob into a directory beside the software directory, then renames it into place. */
async function unpackBlob(
  context: BinaryCacheContext,
  client: NetworkcacheClient,
  sha512: string,
  key: string,
): Promise<number> {
  const work = await mkdtemp(join(context.softwareRoot, `.binary-cache-${key}-`));
  try {
    const blob = join(work, 'software.tar.gz');
    const { bytes } = await client.downloadBlob(sha512, blob, context.signal);
    const unpacked = join(work, 'unpacked');
    await mkdir(unpacked);
    try {
      await extractArchive(blob, unpacked, {
        topDirectory: basename(context.directory),
        absoluteRoot: context.directory,
        nameHint: 'software.tar.gz',
        ...(context.signal ? { signal: context.signal } : {}),
      });
    } catch (error) {
      throw new SlapError(
        'SLAP_ERR_CACHE_REFUSED',
        reasonOf(error).replace(blob, `blob ${sha512.slice(0, 16)}…`),
        { cause: error },
      );
    }
    const top = join(unpacked, basename(context.directory));
    if (!(await pathExists(top)))
      throw new SlapError(
        'SLAP_ERR_CACHE_REFUSED',
        `the archive holds no ${basename(context.directory)}/ directory`,
      );
    // As root, the release belongs to the owner of the software root (slapsoft), as a build would.
    const owner = await stat(context.softwareRoot);
    if (process.getuid?.() === 0 && owner.uid !== 0) {
      const chown = await execFile('chown', ['-R', '-h', `${owner.uid}:${owner.gid}`, top]);
      if (chown.exitCode !== 0)
        throw new SlapError('SLAP_ERR_SYSTEM_COMMAND', `chown failed: ${chown.stderr.trim()}`);
    }
    await rename(top, context.directory);
    return bytes;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface UploadSettings {
  /** Tries in all (default 3). */
  attempts?: number;
  /** Milliseconds before the second try, doubled for each next one (default 2 s). */
  backoffMs?: number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Top-level files of the software directory left out of the archive (the node's own markers and logs). */
  leaveOut?: readonly string[];
}

export type UploadResult = { uploaded: true; sha512: string } | { uploaded: false; reason: string };

/** Why this build is not uploaded, or undefined when it is to be (both URLs, not blacklisted, not shared). */
export async function uploadSkipReason(context: BinaryCacheContext): Promise<string | undefined> {
  if (context.options.binaryUpload === undefined) return 'no binary cache configured for upload';
  const blacklisted = matchingPrefix(context.url, context.options.uploadBlacklist);
  if (blacklisted !== undefined)
    return `the URL matches upload-to-binary-cache-url-blacklist entry ${blacklisted}`;
  if (await pathExists(join(context.directory, '.shared')))
    return 'the software release uses shared parts (.shared)';
  return undefined;
}

/**
 * Archives the built software directory and uploads it with its signed entry. Never throws for a
 * cache failure (only when aborted): the result says what happened.
 */
export async function uploadToBinaryCache(
  context: BinaryCacheContext,
  settings: UploadSettings = {},
): Promise<UploadResult> {
  const skip = await uploadSkipReason(context);
  const endpoints = context.options.binaryUpload;
  if (skip !== undefined || endpoints === undefined) return { uploaded: false, reason: skip ?? '' };
  const work = await mkdtemp(
    join(dirname(context.directory), `.binary-upload-${basename(context.directory)}-`),
  );
  const client = clientFor(context, endpoints);
  const attempts = settings.attempts ?? 3;
  const sleep =
    settings.sleep ??
    ((ms: number, signal?: AbortSignal) => sleepMs(ms, undefined, signal ? { signal } : {}));
  let reason = '';
  try {
    const archive = join(work, 'software.tar.gz');
    const top = basename(context.directory);
    const excludes = (settings.leaveOut ?? []).map((name) => `--exclude=${top}/${name}`);
    const tar = await execFile('tar', ['-czf', archive, ...excludes, '-C', dirname(context.directory), top], {
      timeoutMs: 60 * 60_000,
      ...(context.signal ? { signal: context.signal } : {}),
    });
    if (tar.exitCode !== 0)
      return { uploaded: false, reason: `tar exited with ${tar.exitCode}: ${tar.stderr.trim()}` };
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        const sha512 = await client.uploadBlob(archive, context.signal);
        await client.putEntry(
          binaryEntryKey(context.url),
          binaryEntryJson({
            sha512,
            softwareUrl: context.url,
            softwareRoot: context.softwareRoot,
            multiarch: context.machine.multiarch,
            os: context.machine.os,
          }),
          context.signal,
        );
        return { uploaded: true, sha512 };
      } catch (error) {
        if (context.signal?.aborted) throw error;
        reason = reasonOf(error);
        context.logger.warn({ attempt, attempts, reason }, 'binary cache upload failed');
        if (attempt < attempts)
          await sleep((settings.backoffMs ?? 2000) * 2 ** (attempt - 1), context.signal);
      }
    }
    return { uploaded: false, reason };
  } finally {
    await client.close();
    await rm(work, { recursive: true, force: true });
  }
}
