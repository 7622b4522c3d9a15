/**
 * A full disk, portably: RLIMIT_FSIZE on a process (`prlimit`, util-linux). Past the limit its
 * writes to regular files fail (EFBIG; a write that crosses it is cut short), which SQLite
 * reports as SQLITE_IOERR_WRITE or SQLITE_FULL. Needs neither root nor `mount` (CI containers
 * may forbid it); Node ignores SIGXFSZ, so the process lives on. Only the soft limit changes:
 * raising it back to the hard limit needs no privilege.
 */
import { execFileSync } from 'node:child_process';

function prlimit(pid: number, ...args: string[]): string {
  return execFileSync('prlimit', ['--pid', String(pid), ...args], { encoding: 'utf8', timeout: 10_000 });
}

/** Limits `pid`'s files to `bytes`; returns what puts the soft limit back as it was. */
export function limitFileSize(pid: number, bytes: number): () => void {
  const [soft] = prlimit(pid, '--fsize', '--raw', '--noheadings', '--output', 'SOFT').trim().split(/\s+/);
  if (soft === undefined || soft === '') throw new Error(`prlimit: no file size limit for ${pid}`);
  prlimit(pid, `--fsize=${bytes}:`);
  return () => void prlimit(pid, `--fsize=${soft}:`);
}
