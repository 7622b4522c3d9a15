/**
 * `slapos node software` as a function: installs the software releases the master lists for this
 * compute node into `<software_root>/<md5(url)>` with the profile engine, reports building /
 * available / error (with the build log's tail) / destroyed, and removes destroyed ones (node.md §3).
 * One software release at a time, in the master's order; one failure never stops the others.
 */
import { createHash } from 'node:crypto';
import { chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../core/clock.ts';
import { profileListOption, profileWord } from '../../buildout/profile-text.ts';
import { EXIT, SlapError } from '../../core/errors.ts';
import { matchingPrefix, type MachineInfo } from '../../core/networkcache/platform.ts';
import { silentLogger } from '../../lib/logger.ts';
import { RunLog } from '../build-log.ts';
import type { NodeConfig } from '../config.ts';
import { requireFreeSpace } from '../disk-space.ts';
import { runNodeBuildout } from '../node-buildout.ts';
import { passError, type NodePassOptions, type PassError } from '../pass.ts';
import { partitionsUsingSoftware } from '../partitions.ts';
import { removeTree } from '../remove-tree.ts';
import { JsonApiStateSource, type NodeStateSource, type WantedSoftware } from '../state-source.ts';
import { pathExists } from '../../lib/path-exists.ts';
import { isLocalSoftwareUrl, recordSources } from './local-sources.ts';
import {
  installFromBinaryCache,
  localMachineInfo,
  uploadToBinaryCache,
  type BinaryCacheContext,
  type BinaryInstallResult,
  type UploadSettings,
} from './cache/binary-cache.ts';
import { readNetworkcacheOptions } from '../../lib/networkcache/options.ts';
import type { Dispatcher } from 'undici';

/** `<software_root>/<md5 of the URL>`: where a software release is installed. */
export function softwareDirectory(softwareRoot: string, url: string): string {
  return join(softwareRoot, createHash('md5').update(url, 'utf8').digest('hex'));
}

/** Written once a software release is installed and reported available. */
export const COMPLETED_FILE = '.completed';
/** The last build's full log, in the software directory. */
export const BUILD_LOG_FILE = '.slapos-build.log';

export interface SoftwarePassOptions extends NodePassOptions {
  /** Default: the JSON API through `master`. */
  source?: NodeStateSource;
  /** `--only-sr`: only these software releases (URLs or md5 digests). */
  onlySoftware?: readonly string[];
  /** `--force`: build again even if installed (and let buildout look for newer profiles). */
  force?: boolean;
  /** Lines of the build log in an error report (default 50). */
  errorLines?: number;
  /** Binary cache seams (tests): this machine's multiarch/os, the HTTP dispatcher, upload retries. */
  binaryCache?: { machine?: MachineInfo; dispatcher?: Dispatcher; upload?: UploadSettings };
}

export interface SoftwareItemResult {
  url: string;
  directory: string;
  requestedState: WantedSoftware['state'];
  /**
   * `installed`: built now; `up-to-date`: already installed, nothing done; `kept`: to be removed,
   * but instances of this node still use it (`usedBy`): removed once none does.
   */
  outcome: 'installed' | 'up-to-date' | 'destroyed' | 'kept' | 'failed';
  /** `installed`: unpacked from the binary cache, or built by the profile engine. */
  installedFrom?: 'binary-cache' | 'build';
  /** The partitions using it (`kept`). */
  usedBy?: string[];
  error?: PassError;
  durationMs: number;
}

export interface SoftwarePassResult {
  items: SoftwareItemResult[];
  /** 0: every item succeeded, 1: one failed (node.md §3). */
  exitCode: number;
  durationMs: number;
}

export async function runSoftwarePass(
  config: NodeConfig,
  options: SoftwarePassOptions,
): Promise<SoftwarePassResult> {
  const started = performance.now();
  const source = options.source ?? new JsonApiStateSource(options.master, config.computerId);
  const state = await source.read({
    software: true,
    partitions: false,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const wanted = (state.software ?? []).filter((item) => selectedSoftware(item.url, options.onlySoftware));
  const items: SoftwareItemResult[] = [];
  for (const item of wanted) {
    options.signal?.throwIfAborted();
    items.push(await processSoftware(config, item, options));
  }
  return {
    items,
    exitCode: items.some((item) => item.outcome === 'failed') ? EXIT.failure : EXIT.ok,
    durationMs: performance.now() - started,
  };
}

/** `--only-sr`: true if `url` is one of `only` (URLs or md5 digests), or if there is no `only`. */
export function selectedSoftware(url: string, only: readonly string[] | undefined): boolean {
  if (only === undefined) return true;
  const digest = softwareDirectory('', url);
  return only.some((entry) => entry === url || entry === digest);
}

async function processSoftware(
  config: NodeConfig,
  item: WantedSoftware,
  options: SoftwarePassOptions,
): Promise<SoftwareItemResult> {
  const started = performance.now();
  const directory = softwareDirectory(config.softwareRoot, item.url);
  const result = (outcome: SoftwareItemResult['outcome'], error?: PassError): SoftwareItemResult => ({
    url: item.url,
    directory,
    requestedState: item.state,
    outcome,
    ...(error === undefined ? {} : { error }),
    durationMs: performance.now() - started,
  });
  const logger = (options.logger ?? silentLogger()).child({ software: item.url });
  const emit = options.onProgress ?? (() => undefined);
  const call = options.signal ? { signal: options.signal } : {};
  try {
    if (item.state === 'destroyed') {
      // Never pulled from under an instance (destroying one may still need it): kept until none uses it.
      const usedBy = await partitionsUsingSoftware(config.instanceRoot, directory);
      if (usedBy.length > 0) {
        logger.info({ usedBy }, 'software release to remove, still used: kept');
        emit({ type: 'software', url: item.url, action: 'kept', message: usedBy.join(', ') });
        return { ...result('kept'), usedBy };
      }
      await removeTree(directory);
      await options.master.reportSoftwareInstallationState(
        { softwareReleaseUri: item.url, computerGuid: config.computerId, state: 'destroyed' },
        call,
      );
      logger.info({ directory }, 'software release removed');
      emit({ type: 'software', url: item.url, action: 'destroyed' });
      return result('destroyed');
    }
    if (!options.force && (await pathExists(join(directory, COMPLETED_FILE)))) {
      emit({ type: 'software', url: item.url, action: 'up-to-date' });
      return result('up-to-date');
    }
  } catch (error) {
    logger.error({ err: error }, 'software release processing failed');
    emit({ type: 'software', url: item.url, action: 'failed', message: passError(error).message });
    return result('failed', passError(error));
  }

  emit({ type: 'software', url: item.url, action: 'building' });
  // Before the build log exists: the binary cache is only tried when the directory does not.
  const cache = await binaryCacheAttempt(config, item.url, directory, options, logger).catch(
    (error: unknown) => ({
      error,
    }),
  );
  const log = await RunLog.open(join(directory, BUILD_LOG_FILE), {
    tailLines: options.errorLines ?? 50,
    truncate: true,
  });
  try {
    await options.master.reportSoftwareInstallationState(
      { softwareReleaseUri: item.url, computerGuid: config.computerId, state: 'building' },
      call,
    );
    log.line(`Installing software release ${item.url} into ${directory}`);
    if ('error' in cache) throw cache.error;
    const buildStartedMs = Date.now();
    let sources: string[] = [];
    let how: string;
    if (cache.result?.installed) {
      how = `installed from binary cache ${cache.result.cacheUrl}`;
      log.line(
        `Installed from binary cache ${cache.result.cacheUrl} (sha512 ${cache.result.sha512}, ${cache.result.bytes} bytes)`,
      );
    } else {
      for (const reason of cache.result?.reasons ?? []) log.line(`Binary cache: ${reason}`);
      const forced = matchingPrefix(item.url, cache.context?.options.forceList ?? []);
      if (forced !== undefined)
        throw new SlapError(
          'SLAP_ERR_CACHE_FORCED',
          `Binary cache forced for ${item.url} (download-from-binary-cache-force-url-list: ${forced}), but it could not be installed from the cache; it is never built here, will retry again`,
        );
      sources = await buildSoftware(config, item.url, directory, log, options);
      how = 'built';
      log.line('Built');
      if (cache.context) await uploadBuild(cache.context, log, options);
    }
    await options.master.reportSoftwareInstallationState(
      { softwareReleaseUri: item.url, computerGuid: config.computerId, state: 'available' },
      call,
    );
    if (isLocalSoftwareUrl(item.url)) await recordSources(directory, sources, buildStartedMs);
    // After the report, as the original: a failed report builds (a no-op) and reports again next time.
    await writeFile(
      join(directory, COMPLETED_FILE),
      `${new Date((options.clock ?? systemClock).now() * 1000).toUTCString()}\n`,
    );
    logger.info({ directory, how }, 'software release available');
    emit({ type: 'software', url: item.url, action: 'available', message: how });
    return { ...result('installed'), installedFrom: cache.result?.installed ? 'binary-cache' : 'build' };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const failure = passError(error);
    log.line(`Error: ${failure.message}`);
    logger.error({ err: error }, 'software release build failed');
    emit({ type: 'software', url: item.url, action: 'failed', message: failure.message });
    try {
      await options.master.reportSoftwareInstallationError(
        {
          softwareReleaseUri: item.url,
          computerGuid: config.computerId,
          message: `${failure.message}\n\nLast lines of the build log (${log.path}):\n${log.tail.text()}`,
        },
        call,
      );
    } catch (reportError) {
      logger.warn({ err: reportError }, 'could not report the build error to the master');
    }
    return result('failed', failure);
  } finally {
    await log.close();
  }
}

interface CacheAttempt {
  /** Undefined: no [networkcache] option concerns software releases. */
  context: BinaryCacheContext | undefined;
  /** Undefined: not tried (no download configured, or the directory exists). */
  result: BinaryInstallResult | undefined;
}

/** Installs from the binary cache when it is configured and the directory does not exist yet. */
async function binaryCacheAttempt(
  config: NodeConfig,
  url: string,
  directory: string,
  options: SoftwarePassOptions,
  logger: NonNullable<SoftwarePassOptions['logger']>,
): Promise<CacheAttempt> {
  const networkcache = readNetworkcacheOptions(config.networkcache, config.file);
  if (!networkcache.binaryDownload && !networkcache.binaryUpload && networkcache.forceList.length === 0)
    return { context: undefined, result: undefined };
  for (const ignored of networkcache.ignoredCertificates)
    logger.info(
      { reason: ignored },
      'ignored a certificate of signature-certificate-list that does not parse',
    );
  const seams = options.binaryCache ?? {};
  const context: BinaryCacheContext = {
    options: networkcache,
    url,
    softwareRoot: config.softwareRoot,
    directory,
    machine: seams.machine ?? (await localMachineInfo()),
    logger,
    signal: options.signal,
    dispatcher: seams.dispatcher,
  };
  if (await pathExists(directory))
    return { context, result: { installed: false, reasons: [`${directory} already exists`] } };
  const result = await installFromBinaryCache(context);
  if (!result.installed)
    logger.info({ reasons: result.reasons }, 'software release not installed from binary cache: building it');
  return { context, result };
}

/** Uploads a fresh build when upload is configured; a failure is logged, never fails the build. */
async function uploadBuild(
  context: BinaryCacheContext,
  log: RunLog,
  options: SoftwarePassOptions,
): Promise<void> {
  if (!context.options.binaryUpload) return;
  const upload = await uploadToBinaryCache(context, {
    ...options.binaryCache?.upload,
    // Markers and logs of this node's run; the receiving node writes its own.
    leaveOut: [COMPLETED_FILE, BUILD_LOG_FILE, `${BUILD_LOG_FILE}.1`],
  });
  if (upload.uploaded) {
    log.line(`Uploaded to binary cache (sha512 ${upload.sha512})`);
    context.logger.info({ sha512: upload.sha512 }, 'software release uploaded to binary cache');
  } else {
    log.line(`Not uploaded to binary cache: ${upload.reason}`);
    context.logger.warn({ reason: upload.reason }, 'software release not uploaded to binary cache');
  }
}

async function buildSoftware(
  config: NodeConfig,
  url: string,
  directory: string,
  log: RunLog,
  options: SoftwarePassOptions,
): Promise<string[]> {
  await requireFreeSpace(directory, config.softwareMinFreeSpace, 'software_min_free_space');
  // As root, the build runs as the owner of software_root (slapsoft), never as root.
  const root = await stat(config.softwareRoot);
  const runAs = process.getuid?.() === 0 && root.uid !== 0 ? { uid: root.uid, gid: root.gid } : undefined;
  for (const dir of [directory, join(directory, 'extends-cache')]) {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    if (runAs) await chown(dir, runAs.uid, runAs.gid);
  }
  const profile = join(directory, 'buildout.cfg');
  if (!(await pathExists(profile))) {
    // Written once, never updated (node.md §3.4).
    await writeFile(profile, softwareProfile(url, config), { mode: 0o644 });
    if (runAs) await chown(profile, runAs.uid, runAs.gid);
  }
  let sources: string[] = [];
  await runNodeBuildout({
    directory,
    configFile: profile,
    assignments: [
      `buildout:extends-cache=${join(directory, 'extends-cache')}`,
      `buildout:directory=${directory}`,
      ...networkcacheAssignments(config),
    ],
    newest: options.force === true,
    ...(runAs ? { runAs: { ...runAs, instanceRoot: config.instanceRoot } } : {}),
    env: { HOME: directory },
    onProgress: (event) => {
      if (event.type === 'sources') sources = event.files;
      log.event(event);
      options.onProgress?.({ type: 'buildout', scope: 'software', target: url, event });
    },
    ...(options.signal ? { signal: options.signal } : {}),
    logger: options.logger ?? silentLogger(),
    ...(options.exec ? { exec: options.exec } : {}),
    ...(options.recipes ? { recipes: options.recipes } : {}),
  });
  return sources;
}

/** What slapgrid forwards from `[networkcache]` to the release's buildout (node.md §3.4). */
const FORWARDED_NETWORKCACHE_OPTIONS = [
  'signature-private-key-file',
  'upload-cache-url',
  'upload-dir-url',
  'shacache-ca-file',
  'shacache-cert-file',
  'shacache-key-file',
  'shadir-ca-file',
  'shadir-cert-file',
  'shadir-key-file',
] as const;
const FILE_OPTIONS: ReadonlySet<string> = new Set(
  FORWARDED_NETWORKCACHE_OPTIONS.filter((o) => o.endsWith('-file')),
);

/**
 * `buildout:networkcache-section=networkcache` and `networkcache:<option>=<value>` for the set
 * options, when a signature key or an upload URL is set (so the release's downloads feed the
 * source cache); files are made absolute against slapos.cfg. A value holding a line break is not
 * forwarded (no URL or path has one).
 */
export function networkcacheAssignments(config: Pick<NodeConfig, 'networkcache' | 'file'>): string[] {
  const options = config.networkcache;
  const value = (option: string): string | undefined => {
    const raw = (
      option === 'signature-private-key-file'
        ? (options[option] ?? options.signature_private_key_file)
        : options[option]
    )?.trim();
    if (!raw || /[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]/.test(raw)) return undefined;
    return FILE_OPTIONS.has(option) ? resolve(dirname(config.file), raw) : raw;
  };
  if (!value('signature-private-key-file') && !value('upload-cache-url') && !value('upload-dir-url'))
    return [];
  const forwarded = FORWARDED_NETWORKCACHE_OPTIONS.flatMap((option) => {
    const v = value(option);
    return v === undefined ? [] : [`networkcache:${option}=${v}`];
  });
  return ['buildout:networkcache-section=networkcache', ...forwarded];
}

/**
 * The software directory's buildout.cfg: the release's profile, extended (node.md §3.4). A URL or
 * list entry that a profile cannot hold exactly is refused (profile-text.ts).
 */
export function softwareProfile(
  url: string,
  config: Pick<NodeConfig, 'sharedPartList' | 'buildTimePartList'>,
): string {
  return [
    '[buildout]',
    `extends = ${profileWord('extends', url)}`,
    profileListOption('shared-part-list', config.sharedPartList),
    profileListOption('build-time-part-list', config.buildTimePartList),
    '',
  ].join('\n');
}
