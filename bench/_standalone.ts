/** A standalone SlapOS for the benchmarks: started as `slapos standalone start` does, with a client holding its token. */
import type { MasterClient } from '../src/client/master-client.ts';
import { createMasterClient } from '../src/client/master-api.ts';
import { readAccessTokenFile } from '../src/lib/access-token.ts';
import { runSlaposProcess } from '../src/testing/standalone.ts';

export interface BenchStandalone {
  info: {
    master_url: string;
    computer_guid: string;
    token_file: string;
    pids: { agent: number; supervisor: number };
  };
  /** A client of its master, with its access token (the caller closes it). */
  client: MasterClient;
}

export async function startBenchStandalone(dir: string, partitions: number): Promise<BenchStandalone> {
  const started = await runSlaposProcess([
    'standalone',
    'start',
    '--dir',
    dir,
    '--partitions',
    String(partitions),
    '--json',
  ]);
  if (started.exitCode !== 0) throw new Error(`standalone start failed: ${started.stderr}`);
  const info = JSON.parse(started.stdout) as BenchStandalone['info'];
  const client = createMasterClient({
    api: 'json',
    masterUrl: info.master_url,
    accessToken: await readAccessTokenFile(info.token_file),
  });
  return { info, client };
}
