/**
 * What the node runs as another user (a build as the software user, an instance profile or an
 * uninstall as a partition user): `slapos buildout` from a copy of this package's runtime, not from
 * the package itself. The package may sit where those users cannot enter (a clone under /root or in
 * a `mktemp -d` directory, mode 0700), node_modules included; the copy sits in a directory the node
 * manages, owned by root and readable by everyone, under a name that is the hash of its content, so
 * new code gets a new copy and a copy is never changed once complete.
 *
 * The copy holds `package.json`, `bin/`, the compiled code (`dist/src`, without tests), the contract
 * files read at run time (`src/api`, not its TypeScript) and the packages `slapos buildout` loads
 * (USER_RUNTIME_PACKAGES and what they depend on), at the same relative paths.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { packageRoot } from '../lib/package-root.ts';

/**
 * The packages the `slapos buildout` command imports (the rest of node_modules stays behind);
 * user-runtime.test.ts checks this list against the command's imports.
 */
export const USER_RUNTIME_PACKAGES: readonly string[] = ['ajv', 'commander', 'pino', 'undici'];

/** The directory, under the node's instance root, holding the copies. */
export const USER_RUNTIME_DIRECTORY = '.slapos-runtime';

const COMPLETE = '.complete';

interface RuntimeFile {
  /** Relative to the package root, with `/`. */
  path: string;
  content: Buffer;
}

export interface UserRuntime {
  /** `bin/slapos.js` of the copy. */
  bin: string;
  /** The copy's directory. */
  directory: string;
}

export interface UserRuntimeOptions {
  /** Where the copies go (`<instance_root>/.slapos-runtime`). */
  parent: string;
  /** The user that will run it: the node binary must be reachable by them. */
  runAs: { uid: number; gid: number };
  /** The package to copy (default: this one). */
  packageDirectory?: string;
  /** The node binary (default: this process's). */
  nodeBinary?: string;
}

/**
 * The runtime copy `runAs` runs `slapos buildout` from: made on first use, reused while the code is
 * the same. Refuses (SLAP_ERR_RUNTIME_UNREADABLE) when the node binary is out of the user's reach or
 * the copies' directory is not safe (not root's, writable by others, a symbolic link).
 */
export async function ensureUserRuntime(options: UserRuntimeOptions): Promise<UserRuntime> {
  const nodeBinary = options.nodeBinary ?? process.execPath;
  await requireReachable(nodeBinary, options.runAs, 'the node binary');
  const { files, hash } = await runtimeOf(options.packageDirectory ?? packageRoot());
  const directory = join(options.parent, hash);
  await ensureSafeDirectory(options.parent);
  if (!(await complete(directory))) {
    let installing = installs.get(directory);
    if (installing === undefined) {
      installing = install(directory, files).finally(() => installs.delete(directory));
      installs.set(directory, installing);
    }
    await installing;
  }
  await requireReachable(join(directory, COMPLETE), options.runAs, 'the node runtime copy');
  return { bin: join(directory, 'bin', 'slapos.js'), directory };
}

// --- what is copied ---

/** Read and hashed once per process: the code of a running node does not change under it. */
const runtimes = new Map<string, Promise<{ files: RuntimeFile[]; hash: string }>>();
const installs = new Map<string, Promise<void>>();

function runtimeOf(root: string): Promise<{ files: RuntimeFile[]; hash: string }> {
  let runtime = runtimes.get(root);
  if (runtime === undefined) {
    runtime = runtimeFiles(root).then((files) => ({ files, hash: contentHash(files) }));
    runtime.catch(() => runtimes.delete(root));
    runtimes.set(root, runtime);
  }
  return runtime;
}

async function runtimeFiles(root: string): Promise<RuntimeFile[]> {
  const paths = [
    'package.json',
    ...(await listFiles(root, 'bin')),
    ...(await listFiles(root, join('dist', 'src'), (path) => isCompiledRuntime(path))),
    ...(await listFiles(root, join('src', 'api'), (path) => !path.endsWith('.ts'))),
  ];
  for (const packageDirectory of await dependencyDirectories(root, USER_RUNTIME_PACKAGES))
    paths.push(
      ...(await listFiles(
        root,
        packageDirectory,
        (path) => !isNested(packageDirectory, path) && !DOCS_AND_TYPES.test(path),
      )),
    );
  paths.sort();
  return Promise.all(
    paths.map(async (path) => ({
      path: path.split(sep).join('/'),
      content: await readFile(join(root, path)),
    })),
  );
}

/** What a package ships that is never loaded: TypeScript sources and declarations, maps, documents. */
const DOCS_AND_TYPES = /\.([cm]?ts|map|md|markdown)$/i;

function isCompiledRuntime(path: string): boolean {
  return path.endsWith('.js') && !path.endsWith('.test.js') && !path.split(sep).includes('testing');
}

/** A file of a package's own node_modules: copied only as a dependency of its own. */
function isNested(packageDirectory: string, path: string): boolean {
  return relative(packageDirectory, path).split(sep).includes('node_modules');
}

/** Files (following links) under `directory`, relative to `root`; none if it does not exist. */
async function listFiles(
  root: string,
  directory: string,
  keep: (path: string) => boolean = () => true,
): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(join(root, directory));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(directory, entry);
    const info = await stat(join(root, path));
    if (info.isDirectory()) found.push(...(await listFiles(root, path, keep)));
    else if (info.isFile() && keep(path)) found.push(path);
  }
  return found;
}

/**
 * The package directories (relative to `root`) of `names` and of everything they depend on,
 * resolved as node does: the nearest `node_modules/<name>` up from the package that needs it.
 */
async function dependencyDirectories(root: string, names: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  const visit = async (from: string, name: string): Promise<void> => {
    const directory = await resolvePackage(root, from, name);
    if (directory === undefined) {
      throw new SlapError(
        'SLAP_ERR_RUNTIME_UNREADABLE',
        `cannot find the package ${name} needed by ${from || 'slapos'}`,
        {
          hint: 'install the dependencies of the slapos package (npm ci)',
        },
      );
    }
    if (found.has(directory)) return;
    found.add(directory);
    const manifest = JSON.parse(await readFile(join(root, directory, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) await visit(directory, dependency);
    for (const dependency of Object.keys(manifest.optionalDependencies ?? {}))
      if ((await resolvePackage(root, directory, dependency)) !== undefined)
        await visit(directory, dependency);
  };
  for (const name of names) await visit('', name);
  return [...found].sort();
}

async function resolvePackage(root: string, from: string, name: string): Promise<string | undefined> {
  for (let directory = from; ; directory = dirname(directory)) {
    const base = directory === '.' ? '' : directory;
    const candidate = join(base, 'node_modules', name);
    try {
      if ((await stat(join(root, candidate, 'package.json'))).isFile()) return candidate;
    } catch {
      // not here: one level up
    }
    if (base === '') return undefined;
  }
}

function contentHash(files: readonly RuntimeFile[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file.path}\0${file.content.length}\0`);
    hash.update(file.content);
  }
  return hash.digest('hex').slice(0, 32);
}

// --- the copy ---

async function complete(directory: string): Promise<boolean> {
  try {
    const info = await lstat(join(directory, COMPLETE));
    return info.isFile() && info.uid === process.getuid?.();
  } catch {
    return false;
  }
}

/** Writes the copy beside its place, then renames it there (a crash leaves no half copy in use). */
async function install(directory: string, files: readonly RuntimeFile[]): Promise<void> {
  const staging = `${directory}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await mkdir(staging, { mode: 0o755 });
    await chmod(staging, 0o755);
    const made = new Set<string>();
    for (const file of files) {
      const target = join(staging, file.path);
      const parent = dirname(target);
      if (!made.has(parent)) {
        await mkdirReadable(staging, parent);
        made.add(parent);
      }
      await writeFile(target, file.content, { mode: 0o644 });
      await chmod(target, 0o644);
    }
    await writeFile(join(staging, COMPLETE), '', { mode: 0o644 });
    try {
      await rename(staging, directory);
    } catch (error) {
      // Another node process put the same copy there first (a copy there is always complete).
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await complete(directory))) throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** mkdir -p with mode 0755 whatever the umask. */
async function mkdirReadable(base: string, directory: string): Promise<void> {
  if (directory === base) return;
  await mkdirReadable(base, dirname(directory));
  try {
    await mkdir(directory, { mode: 0o755 });
    await chmod(directory, 0o755);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

// --- checks ---

/** The copies' directory: created 0755, else it must be ours, a real directory, not writable by others. */
async function ensureSafeDirectory(directory: string): Promise<void> {
  // Its parent (the instance root) too: whoever can write there can swap the directory.
  const parent = await lstat(dirname(directory));
  if (!safe(parent)) {
    throw new SlapError(
      'SLAP_ERR_RUNTIME_UNREADABLE',
      `${dirname(directory)} is not a safe place for the node runtime: it must be a directory of the node's user that no one else can write`,
      { hint: `chmod go-w ${dirname(directory)}` },
    );
  }
  try {
    await mkdir(directory, { mode: 0o755 });
    await chmod(directory, 0o755);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (!safe(await lstat(directory))) {
    throw new SlapError(
      'SLAP_ERR_RUNTIME_UNREADABLE',
      `${directory} is not a safe place for the node runtime: it must be a directory of the node's user that no one else can write`,
      { hint: `remove ${directory}: the node makes it again` },
    );
  }
}

function safe(info: { isDirectory(): boolean; uid: number; mode: number }): boolean {
  return info.isDirectory() && info.uid === process.getuid?.() && (info.mode & 0o022) === 0;
}

/**
 * Whether `runAs` can reach `path`: every directory above it searchable and the file readable, by
 * its owner, group or other bits (supplementary groups are not known here: not counted).
 */
async function requireReachable(
  path: string,
  runAs: { uid: number; gid: number },
  what: string,
): Promise<void> {
  const allowed = (info: { uid: number; gid: number; mode: number }, bits: number): boolean => {
    if (runAs.uid === 0) return true;
    const shift = info.uid === runAs.uid ? 6 : info.gid === runAs.gid ? 3 : 0;
    return ((info.mode >> shift) & bits) === bits;
  };
  const blocked = async (): Promise<string | undefined> => {
    const ancestors: string[] = [];
    for (let directory = dirname(path); ; directory = dirname(directory)) {
      ancestors.unshift(directory);
      if (dirname(directory) === directory) break;
    }
    for (const directory of ancestors) if (!allowed(await stat(directory), 0o1)) return directory;
    return allowed(await stat(path), 0o4) ? undefined : path;
  };
  const where = await blocked();
  if (where === undefined) return;
  throw new SlapError(
    'SLAP_ERR_RUNTIME_UNREADABLE',
    `${what} cannot be reached by uid ${runAs.uid}: ${where} is closed to it (${path})`,
    { hint: `make ${where} readable and searchable by others (chmod o+rx), or install it elsewhere` },
  );
}
