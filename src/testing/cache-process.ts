/** `slapos cache start … --json` as a process, for tests: started, where it listens read from its stdout. */
import { spawn, type ChildProcess } from 'node:child_process';
import { slaposBinPath } from '../lib/package-root.ts';

export interface CacheProcessInfo {
  url: string;
  shacache_url: string;
  shadir_url: string;
  dir: string;
  token_file: string;
  client_certificates: boolean;
}

export interface CacheProcess {
  child: ChildProcess;
  info: CacheProcessInfo;
  /** Its stderr (JSON log lines) so far. */
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `slapos cache start --port 0 --json …ARGS` and waits (60 s at most) until it listens. */
export async function startCacheProcess(args: readonly string[], cwd: string): Promise<CacheProcess> {
  const child = spawn(
    process.execPath,
    [slaposBinPath(), 'cache', 'start', '--port', '0', '--json', ...args],
    {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const info = await new Promise<CacheProcessInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cache server did not start: ${stderr}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      try {
        const parsed = JSON.parse(stdout) as CacheProcessInfo;
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // Not whole yet.
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the cache server exited with ${code} before listening: ${stderr}`));
    });
  });
  return { child, info, stderr: () => stderr, exited };
}

/** Stops it (SIGTERM, SIGKILL after 30 s) and returns its exit code. */
export async function stopCacheProcess(started: CacheProcess): Promise<number | null> {
  if (started.child.exitCode !== null) return started.child.exitCode;
  started.child.kill('SIGTERM');
  const timeout = setTimeout(() => started.child.kill('SIGKILL'), 30_000);
  const { code } = await started.exited;
  clearTimeout(timeout);
  return code;
}
