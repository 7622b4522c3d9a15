/**
 * The node's way to its master: a MasterClient built from slapos.cfg (master_url, master_token, and
 * the node's certificate and key for mutual TLS when configured; a renewal that a crash interrupted is
 * finished first), and the adapters node steps use.
 */
import { readFile } from 'node:fs/promises';
import { createMasterClient } from '../client/master-api.ts';
import type { MasterClient } from '../client/master-client.ts';
import type { TlsMaterial } from '../client/json-transport.ts';
import type { Logger } from '../lib/logger.ts';
import type { NodeConfig } from './config.ts';
import type { ComputeNodeRegistrar } from './format/payload.ts';
import { completeKeyPairReplacement } from '../lib/key-pair-files.ts';

export async function createNodeMasterClient(
  config: NodeConfig,
  options: { logger?: Logger; timeoutMs?: number } = {},
): Promise<MasterClient> {
  if (config.keyFile !== undefined && config.certFile !== undefined)
    await completeKeyPairReplacement({ keyFile: config.keyFile, certFile: config.certFile });
  const tls: TlsMaterial = {};
  if (config.certFile !== undefined) tls.cert = await readFile(config.certFile);
  if (config.keyFile !== undefined) tls.key = await readFile(config.keyFile);
  if (config.masterCaFile !== undefined) tls.ca = await readFile(config.masterCaFile);
  return createMasterClient({
    api: config.masterApi,
    computerGuid: config.computerId,
    masterUrl: config.masterUrl,
    ...(config.masterToken === undefined ? {} : { accessToken: config.masterToken }),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
}

/** `node format`'s registrar backed by the master client (`slapos.put.v0.compute_node_format`). */
export function masterRegistrar(client: MasterClient): ComputeNodeRegistrar {
  return {
    async format(computerGuid, partitions, options = {}) {
      await client.formatComputeNode(
        {
          computerGuid,
          partitions: partitions.map((partition) => ({
            reference: partition.partition_id,
            addresses: (partition.ip_list ?? []).map((ip) => ({
              address: ip['ip-address'],
              networkInterface: ip['network-interface'] ?? partition.partition_id,
              netmask: ip.netmask ?? null,
            })),
          })),
        },
        options.signal ? { signal: options.signal } : {},
      );
    },
  };
}
