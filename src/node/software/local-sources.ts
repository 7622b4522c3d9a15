/**
 * The local files a software release's build read (its profile, what it extends, its custom recipe
 * modules, the templates and other local files its parts read), recorded after each successful build of a release whose URL is a
 * local path or `file:` URL, so that the agent can rebuild the release when one of them changes
 * (`watch_local_software`, docs/node-agent.md). Files of the software directory itself (the node's
 * own buildout.cfg, the extends cache) are not sources.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { localPath } from '../../lib/download.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

/** In the software directory: the sources of the last successful build (JSON). */
export const SOURCES_FILE = '.slapos-sources.json';

export interface SourceFile {
  path: string;
  /** null: the file did not exist. */
  size: number | null;
  mtimeMs: number | null;
  sha256: string | null;
}

/** True for a software release URL that names a local file (a path or a `file:` URL). */
export function isLocalSoftwareUrl(url: string): boolean {
  return localPath(url) !== undefined;
}

/** Stat and content digest of `path` now (nulls if it cannot be read). */
export async function describeSource(path: string): Promise<SourceFile> {
  try {
    const info = await stat(path);
    const hash = createHash('sha256');
    await pipeline(createReadStream(path), hash);
    return { path, size: info.size, mtimeMs: info.mtimeMs, sha256: hash.digest('hex') };
  } catch {
    return { path, size: null, mtimeMs: null, sha256: null };
  }
}

/** The digest recorded for a source modified while the build ran: never equal to a file's digest. */
const CHANGED_DURING_BUILD = '';

/**
 * Writes the sources of a build of `directory` (the files outside it), with their digests. A source
 * modified at or after `buildStartedMs` (epoch ms) may have been read before its last edit: it is
 * recorded as changed, so that the next look rebuilds (one rebuild too many rather than one missed).
 */
export async function recordSources(
  directory: string,
  files: readonly string[],
  buildStartedMs: number,
): Promise<SourceFile[]> {
  const outside = files.filter((file) => {
    const rel = relative(directory, file);
    return isAbsolute(file) && (rel.startsWith('..') || isAbsolute(rel));
  });
  const described = await Promise.all([...new Set(outside)].sort().map((file) => describeSource(file)));
  const sources = described.map((source) =>
    source.mtimeMs !== null && source.mtimeMs >= buildStartedMs
      ? { path: source.path, size: null, mtimeMs: null, sha256: CHANGED_DURING_BUILD }
      : source,
  );
  await writeFileAtomic(join(directory, SOURCES_FILE), `${JSON.stringify(sources, null, 2)}\n`);
  return sources;
}

/** The recorded sources of `directory`, or undefined if there are none (or the file is not ours). */
export async function readSources(directory: string): Promise<SourceFile[] | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(directory, SOURCES_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every(isSourceFile)) return undefined;
  return parsed;
}

function isSourceFile(value: unknown): value is SourceFile {
  if (typeof value !== 'object' || value === null) return false;
  const item = value as Record<string, unknown>;
  const numberOrNull = (v: unknown): boolean => v === null || typeof v === 'number';
  return (
    typeof item.path === 'string' &&
    isAbsolute(item.path) &&
    numberOrNull(item.size) &&
    numberOrNull(item.mtimeMs) &&
    (item.sha256 === null || typeof item.sha256 === 'string')
  );
}

/**
 * The first recorded source whose content changed (or appeared, or disappeared) since it was
 * recorded, or undefined. The digest is only computed when size or mtime moved, so an unchanged
 * tree costs one stat per file; a file touched without a change is not a change (its new size and
 * mtime are kept in `sources`, so that it is not digested again).
 */
export async function changedSource(sources: SourceFile[]): Promise<string | undefined> {
  for (const source of sources) {
    const info = await stat(source.path).catch(() => undefined);
    if (info === undefined) {
      if (source.sha256 !== null) return source.path;
      continue;
    }
    if (info.size === source.size && info.mtimeMs === source.mtimeMs) continue;
    const now = await describeSource(source.path);
    if (now.sha256 !== source.sha256) return source.path;
    source.size = now.size;
    source.mtimeMs = now.mtimeMs;
  }
  return undefined;
}
