/**
 * Several masters behind haproxy, for tests and benchmarks: N `slapos proxy start` processes on
 * their own ports of 127.0.0.1, all on one database (`--database`: a PostgreSQL URI, or one SQLite
 * file, which several processes can share), and haproxy in front of them (src/testing/haproxy.ts).
 * Clients, nodes and the CLI are given `url`, haproxy's, never a master's own.
 */
import { startHaproxy, type RunningHaproxy } from './haproxy.ts';
import { startProxyProcess, stopProxyProcess, type ProxyProcess } from './proxy-process.ts';

export interface ClusterMaster {
  /** Its server name in haproxy (`master0`…). */
  name: string;
  /** Its own URL (bypassing haproxy). */
  url: string;
  process: ProxyProcess;
}

export interface MasterCluster {
  /** haproxy's URL: the one master URL clients know. */
  url: string;
  masters: ClusterMaster[];
  haproxy: RunningHaproxy;
  /** The masters whose process still runs. */
  running(): ClusterMaster[];
  /** Kills master `index` at once (SIGKILL: no graceful close) and waits until haproxy sees it DOWN. */
  kill(index: number): Promise<void>;
  close(): Promise<void>;
}

export interface MasterClusterOptions {
  /** How many masters (default 3). */
  masters?: number;
  /** What each master gets as `--database`: a PostgreSQL URI or a SQLite file path. */
  database: string;
  /** The masters' default compute node (`--computer-id`). */
  computerId?: string;
  /** The masters' working directory (their HOME) and haproxy's configuration directory. */
  dir: string;
}

function startClusterMaster(options: MasterClusterOptions, index: number): Promise<ClusterMaster> {
  const args = ['--host', '127.0.0.1', '--port', '0', '--database', options.database];
  if (options.computerId !== undefined) args.push('--computer-id', options.computerId);
  return startProxyProcess(args, options.dir).then((process) => ({
    name: `master${index}`,
    url: process.url,
    process,
  }));
}

/** Starts the masters (the first alone: it applies the migrations), then haproxy once all are up. */
export async function startMasterCluster(options: MasterClusterOptions): Promise<MasterCluster> {
  const count = options.masters ?? 3;
  const masters: ClusterMaster[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(masters.map((master) => stopProxyProcess(master.process)));
  };
  let haproxy: RunningHaproxy;
  try {
    masters.push(await startClusterMaster(options, 0));
    const others = await Promise.allSettled(
      Array.from({ length: count - 1 }, (_, index) => startClusterMaster(options, index + 1)),
    );
    for (const other of others) if (other.status === 'fulfilled') masters.push(other.value);
    const failed = others.find((other) => other.status === 'rejected');
    if (failed) throw failed.reason;
    haproxy = await startHaproxy(
      options.dir,
      masters.map((master) => {
        const { hostname, port } = new URL(master.url);
        return { name: master.name, host: hostname, port: Number(port) };
      }),
    );
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    url: haproxy.url,
    masters,
    haproxy,
    running: () =>
      masters.filter(
        (master) => master.process.child.exitCode === null && master.process.child.signalCode === null,
      ),
    async kill(index) {
      const master = masters[index];
      if (master === undefined) throw new Error(`no master ${index}`);
      master.process.child.kill('SIGKILL');
      await master.process.exited;
      await haproxy.waitForStates([master.name], 'DOWN');
    },
    async close() {
      await haproxy.close();
      await stopAll();
    },
  };
}
