/**
 * A PostgreSQL cluster of a test's own (scripts/pg-cluster.sh: Debian's postgresql, a unix socket in
 * its directory, fsync on), for tests and benchmarks that stop or restart the server, which must not
 * disturb the cluster the other tests share ($SLAPOS_TEST_POSTGRES).
 */
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { execFile } from '../lib/exec.ts';
import { packageRoot } from '../lib/package-root.ts';
import { postgresConnection, postgresUri } from '../master/storage/database-location.ts';
import { pgClientConfig } from '../master/storage/postgres/connection.ts';

export interface PostgresCluster {
  /** `postgresql://USER@/postgres?host=DIR` (no password: trust on a socket only its user reaches). */
  uri: string;
  /** Stops the server (fast shutdown: sessions are cut, as in a crash of the server for its clients). */
  stop(): Promise<void>;
  /** Starts it again. */
  start(): Promise<void>;
  /** Creates a database (a plain lower-case name) and returns its URI. */
  createDatabase(name: string): Promise<string>;
  /** Drops a database, its sessions cut. */
  dropDatabase(name: string): Promise<void>;
  /** CPU seconds the server has used (the postmaster and its children, ended ones included). */
  cpuSeconds(): Promise<number>;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

/** Runs one administrative statement in the cluster's `postgres` database. */
async function administer(uri: string, statement: string): Promise<void> {
  const client = new pg.Client(pgClientConfig(uri, { applicationName: 'slapos-tests' }));
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function checkedName(name: string): string {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  return name;
}

/** Linux's clock ticks per second (/proc/PID/stat times). */
const CLOCK_TICKS = 100;

async function pgCluster(action: 'start' | 'stop', dir: string): Promise<string> {
  const script = join(packageRoot(), 'scripts', 'pg-cluster.sh');
  const result = await execFile('bash', [script, action, dir], { timeoutMs: 120_000 });
  if (result.exitCode !== 0) throw new Error(`pg-cluster.sh ${action}: ${result.stderr}`);
  return result.stdout.trim();
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const parent = await mkdtemp(join(tmpdir(), 'pgc-'));
  // The server runs as another user (initdb refuses root): it must reach its directory.
  await chmod(parent, 0o755);
  const dir = join(parent, 'pg');
  let uri: string;
  try {
    uri = await pgCluster('start', dir);
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
  return {
    uri,
    stop: async () => {
      await pgCluster('stop', dir);
    },
    start: async () => {
      await pgCluster('start', dir);
    },
    async createDatabase(name) {
      await administer(uri, `CREATE DATABASE ${checkedName(name)}`);
      return postgresUri({ ...postgresConnection(uri), database: name });
    },
    async dropDatabase(name) {
      await administer(uri, `DROP DATABASE IF EXISTS ${checkedName(name)} WITH (FORCE)`);
    },
    async cpuSeconds() {
      const text = await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
      const postmaster = Number(text.split('\n')[0]);
      if (!Number.isInteger(postmaster) || postmaster <= 0) return 0;
      // The postmaster's own time and its reaped children's, plus its live children's (backends).
      let total = 0;
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ticks = (index: number): number => Number(fields[index] ?? 0);
        if (Number(entry) === postmaster) total += ticks(11) + ticks(12) + ticks(13) + ticks(14);
        else if (ticks(1) === postmaster) total += ticks(11) + ticks(12);
      }
      return total / CLOCK_TICKS;
    },
    async remove() {
      await pgCluster('stop', dir).catch(() => undefined);
      await rm(parent, { recursive: true, force: true });
    },
  };
}
