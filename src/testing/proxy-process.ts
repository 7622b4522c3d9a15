/** `slapos proxy start …` as a process, for tests: started, its URL read from its log. */
import { spawn, type ChildProcess } from 'node:child_process';
import { slaposBinPath } from '../lib/package-root.ts';

export interface ProxyProcess {
  child: ChildProcess;
  url: string;
  lines: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `slapos proxy start …` and waits (60 s at most) for its "master listening" log line;
 * through `wrapper` if given (a command and its arguments that run the rest: `setpriv … --`).
 */
export async function startProxyProcess(
  args: string[],
  cwd: string,
  options: { wrapper?: readonly string[] } = {},
): Promise<ProxyProcess> {
  const command = [...(options.wrapper ?? []), process.execPath, slaposBinPath(), 'proxy', 'start', ...args];
  const child = spawn(command[0] as string, command.slice(1), {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "master listening" line: ${JSON.stringify(lines)}`)),
      60_000,
    );
    let buffer = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const record = JSON.parse(line) as Record<string, unknown>;
          lines.push(record);
          if (record.msg === 'master listening' && typeof record.url === 'string') {
            clearTimeout(timer);
            resolve(record.url);
          }
        } catch {
          lines.push({ text: line });
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${JSON.stringify(lines)}`));
    });
  });
  return { child, url, lines, exited };
}

/** Stops the proxy (SIGTERM, SIGKILL after 30 s) and returns its exit code. */
export async function stopProxyProcess(
  started: ProxyProcess,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  started.child.kill(signal);
  const timeout = setTimeout(() => started.child.kill('SIGKILL'), 30_000);
  const { code } = await started.exited;
  clearTimeout(timeout);
  return code;
}
