/**
 * A throwaway PostgreSQL cluster for the benchmarks (`scripts/pg-cluster.sh`: a unix socket in a
 * temporary directory, fsync on), and a fresh database in it for each master measured.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const SCRIPT = fileURLToPath(new URL('../scripts/pg-cluster.sh', import.meta.url));
const run = promisify(execFile);

export interface ThrowawayPostgres {
  /** A new empty database's URI (its name made of `label`). */
  freshDatabase(label: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const directory = await mkdtemp(join(tmpdir(), 'pg-bench-'));
  let adminUri: string;
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start', directory], { timeout: 120_000 });
    adminUri = stdout.trim().split('\n').at(-1) ?? '';
    if (!adminUri.startsWith('postgresql://')) throw new Error('pg-cluster.sh printed no URI');
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  let databases = 0;
  return {
    async freshDatabase(label) {
      const name = `bench_${label.replace(/[^a-z0-9]/g, '_')}_${++databases}`;
      const client = new pg.Client({ connectionString: adminUri });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return adminUri.replace('/postgres?', `/${name}?`);
    },
    async stop() {
      try {
        await run('bash', [SCRIPT, 'stop', directory], { timeout: 120_000 });
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}
