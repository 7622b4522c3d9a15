/**
 * A compute node registered with a test master in master mode as its owner would: a registration
 * token, then a certificate for the node's key; two partitions formatted (slappart0 and slappart1 on
 * 127.0.{n+1}.1 and .2) and a software release supplied, so an instance of it can be placed there.
 */
import assert from 'node:assert/strict';
import type { MasterClient } from '../client/master-client.ts';
import { JsonTransport } from '../client/json-transport.ts';
import { createKeyAndCertificateRequest } from '../lib/certificate-request.ts';
import { postTls, type TestMasterMode } from './master-mode.ts';

export interface RegisteredNode {
  guid: string;
  /** The node's calls to the master, over its own mutual TLS. */
  transport: JsonTransport;
}

/** Registers node `n` of the owner of `token` (and of `client`), and supplies `softwareRelease` on it. */
export async function registerFormattedNode(
  master: TestMasterMode,
  client: MasterClient,
  token: string,
  n: number,
  softwareRelease: string,
): Promise<RegisteredNode> {
  const registration = await postTls(
    master.url,
    '/slapos.post.ext.registration_token',
    {},
    { ca: master.caPem, token },
  );
  assert.equal(registration.status, 200, registration.text);
  const { keyPem, csrPem } = await createKeyAndCertificateRequest(`node ${n}`);
  const registered = await postTls(
    master.url,
    '/slapos.post.ext.compute_node_registration',
    { title: `node ${n}`, certificate_request: csrPem },
    { ca: master.caPem, token: (registration.body as { token: string }).token },
  );
  assert.equal(registered.status, 200, registered.text);
  const { computer_guid: guid, certificate } = registered.body as {
    computer_guid: string;
    certificate: string;
  };
  const transport = new JsonTransport({
    masterUrl: master.url,
    tls: { ca: master.caPem, cert: certificate, key: keyPem },
  });
  await transport.post('/slapos.put.v0.compute_node_format', {
    computer_guid: guid,
    compute_partition_list: [0, 1].map((p) => ({
      partition_id: `slappart${p}`,
      ip_list: [{ 'ip-address': `127.0.${n + 1}.${p + 1}`, 'network-interface': 'lo' }],
    })),
  });
  await client.supply({ softwareReleaseUri: softwareRelease, computerGuid: guid });
  return { guid, transport };
}
