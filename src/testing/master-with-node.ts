/**
 * A real master (temporary SQLite, ephemeral port on 127.0.0.1) with one compute node already
 * formatted, and a MasterClient for it: the starting point of client and CLI tests.
 */
import type { MasterClient } from '../client/master-client.ts';
import { createMasterClient } from '../client/master-api.ts';
import { startTestMaster } from './master.ts';

export interface MasterWithNode {
  url: string;
  client: MasterClient;
  computerGuid: string;
  partitionIds: string[];
  close(): Promise<void>;
}

export async function startMasterWithNode(
  options: { computerGuid?: string; partitions?: number; accessToken?: string } = {},
): Promise<MasterWithNode> {
  const computerGuid = options.computerGuid ?? 'COMP-TEST';
  const partitionIds = Array.from({ length: options.partitions ?? 3 }, (_, index) => `slappart${index}`);
  const token = options.accessToken === undefined ? {} : { accessToken: options.accessToken };
  const master = await startTestMaster(token);
  const client = createMasterClient({ api: 'json', masterUrl: master.url, ...token });
  try {
    await client.formatComputeNode({
      computerGuid,
      partitions: partitionIds.map((partitionId, index) => ({
        reference: partitionId,
        addresses: [{ address: `127.0.1.${index + 1}`, networkInterface: 'lo', netmask: '255.0.0.0' }],
      })),
    });
  } catch (error) {
    await client.close();
    await master.close();
    throw error;
  }
  return {
    url: master.url,
    client,
    computerGuid,
    partitionIds,
    async close() {
      await client.close();
      await master.close();
    },
  };
}
