/** Helpers for profile-engine tests: temporary directories with files, a static HTTP server on 127.0.0.1. */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { runBuildout, type BuildoutResult, type RunOptions } from '../buildout/engine.ts';
import type { BuildoutEvent } from '../buildout/progress.ts';
import type { ExecFunction } from '../buildout/recipe.ts';
import { execFile } from '../lib/exec.ts';

export interface TempDir {
  path: string;
  /** Writes files (relative path → content); parents are created. */
  write(files: Record<string, string>): Promise<void>;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'buildout-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    async write(files) {
      for (const [name, content] of Object.entries(files)) {
        const file = join(path, name);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, content);
      }
    },
    async remove() {
      await rm(path, { recursive: true, force: true });
    },
  };
}

export interface StaticServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  /** Paths requested so far. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `root` over HTTP on 127.0.0.1 (ephemeral port); 404 for missing files. */
export async function serveDirectory(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const file = join(root, normalize(path).replace(/^(\.\.[/\\])+/, ''));
    stat(file).then(
      (info) => {
        if (!info.isFile()) {
          res.writeHead(404).end('not found');
          return;
        }
        res.writeHead(200, { 'content-length': info.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on (taken from a server that was closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ProfileRun {
  /** Runs `text` as `buildout.cfg` of `dir` (extra run options merged in). */
  run: (text: string, options?: Partial<RunOptions>) => Promise<BuildoutResult>;
  events: BuildoutEvent[];
  /** Every process spawned through the engine's exec (`file arg…`). */
  spawned: string[];
}

/** A runner for profiles in `dir` that records progress events and counts spawned processes. */
export function profileRunner(dir: string, defaults: Partial<RunOptions> = {}): ProfileRun {
  const events: BuildoutEvent[] = [];
  const spawned: string[] = [];
  const exec: ExecFunction = (file, args, options) => {
    spawned.push([file, ...args].join(' '));
    return execFile(file, args, options);
  };
  return {
    events,
    spawned,
    async run(text, options = {}) {
      await writeFile(join(dir, 'buildout.cfg'), text);
      return runBuildout({
        configFile: join(dir, 'buildout.cfg'),
        exec,
        onProgress: (e) => events.push(e),
        ...defaults,
        ...options,
      });
    },
  };
}
