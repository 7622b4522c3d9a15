/**
 * A node registered with a master in master mode seals its usage journals with the key it
 * authenticates with: two reports make two chained journals whose signatures verify with the
 * node's certificate (issued by the master's CA), and the master takes both over mutual TLS.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MasterClient } from '../../client/master-client.ts';
import { fixedClock, systemClock } from '../../core/clock.ts';
import { parseUsageJournal } from '../../core/usage-journal.ts';
import { readUsageSeal, usageDocumentHash, verifyUsageSeal } from '../../core/usage-signature.ts';
import { createKeyAndCertificateRequest } from '../../lib/certificate-request.ts';
import { MASTER_DATABASE_FILE } from '../../master/master-mode.ts';
import { openMasterStore } from '../../master/storage/open-store.ts';
import { writeFakeBoot, writeFakeProcess } from '../../testing/fake-proc.ts';
import { postTls, startTestMasterMode, type TestMasterMode } from '../../testing/master-mode.ts';
import { makeTempDir, writeSandboxCfg } from '../../testing/node.ts';
import { fixedStateSource } from '../agent/snapshot-source.ts';
import { loadNodeConfig, type NodeConfig } from '../config.ts';
import { formatComputeNode } from '../format/format.ts';
import { commonNameOf } from '../issued-certificate.ts';
import type { NodeMaster } from '../pass.ts';
import { createNodeMasterClient, masterRegistrar } from '../master.ts';
import type { SupervisorControl } from '../supervisor/types.ts';
import { runReportPass } from './report-pass.ts';

const clock = fixedClock(Math.floor(systemClock.now()));
let master: TestMasterMode;
let dir: string;
let config: NodeConfig;
let client: MasterClient;

before(async () => {
  master = await startTestMasterMode({ clock });
  dir = await makeTempDir('slapos-report-master-mode-');
  const { token } = await master.admin.addUser({ name: 'alice', admin: false });
  const registration = await postTls(
    master.url,
    '/slapos.post.ext.registration_token',
    {},
    {
      ca: master.caPem,
      token,
    },
  );
  assert.equal(registration.status, 200, registration.text);
  const { keyPem, csrPem } = await createKeyAndCertificateRequest('metered node');
  const registered = await postTls(
    master.url,
    '/slapos.post.ext.compute_node_registration',
    { title: 'metered node', certificate_request: csrPem },
    { ca: master.caPem, token: (registration.body as { token: string }).token },
  );
  assert.equal(registered.status, 200, registered.text);
  const node = registered.body as { computer_guid: string; certificate: string };
  await writeFile(join(dir, 'computer.key'), keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'computer.crt'), node.certificate, { mode: 0o600 });
  await writeFile(join(dir, 'master-ca.crt'), master.caPem);
  const cfg = await writeSandboxCfg(dir, {
    slapos: {
      computer_id: node.computer_guid,
      master_url: master.url,
      key_file: join(dir, 'computer.key'),
      cert_file: join(dir, 'computer.crt'),
      master_ca_file: join(dir, 'master-ca.crt'),
      certificate_repository_path: join(dir, 'pki'),
    },
    slapformat: { partition_amount: 1 },
  });
  config = await loadNodeConfig({ cfg, isRoot: false });
  client = await createNodeMasterClient(config);
  const format = await formatComputeNode(config, { registrar: masterRegistrar(client), isRoot: false });
  assert.equal(format.postError, undefined);
});

after(async () => {
  await client.close();
  await master.close();
  await rm(dir, { recursive: true, force: true });
});

test('two reports: two journals, chained and signed with the node certificate, taken by the master', async () => {
  const proc = join(dir, 'proc');
  await writeFakeBoot(proc, { id: 'boot', time: clock.now() - 3600 });
  await writeFakeProcess(proc, { pid: 4242, startTime: 100, utime: 250, stime: 50, rssKb: 2048 });
  await mkdir(join(config.instanceRoot, 'slappart0'), { recursive: true });
  // Only status() is used by a report pass without destroyed partitions.
  const supervisor = {
    status: () =>
      Promise.resolve({
        processes: [{ group: 'slappart0', name: 'server', fullName: 'slappart0:server', pid: 4242 }],
      }),
  } as unknown as SupervisorControl;
  const source = fixedStateSource({
    partitions: [
      {
        partitionId: 'slappart0',
        instanceGuid: 'SOFTINST-0',
        title: 'metered',
        requestedState: 'started',
        softwareReleaseUrl: 'https://example.invalid/software.cfg',
        softwareType: 'default',
        marker: '1',
      },
    ],
  });
  const sent: string[] = [];
  // The node's client over mutual TLS, recording what it sends (the pass only reports usage here).
  const recording = {
    reportComputeNodeUsage: (...args: Parameters<MasterClient['reportComputeNodeUsage']>) => {
      sent.push(args[0].usageXml);
      return client.reportComputeNodeUsage(...args);
    },
  } as Pick<NodeMaster, 'reportComputeNodeUsage'> as NodeMaster;
  const report = () =>
    runReportPass(config, { master: recording, supervisor, source, clock, procRoot: proc });

  const first = await report();
  assert.deepEqual(first.journals, [{ source: 'usage', sequence: 1, outcome: 'sent' }]);
  clock.advance(300);
  await writeFakeProcess(proc, { pid: 4242, startTime: 100, utime: 850, stime: 50, rssKb: 2048 });
  const second = await report();
  assert.equal(second.exitCode, 0, JSON.stringify(second.sendError));
  assert.deepEqual(second.journals, [{ source: 'usage', sequence: 2, outcome: 'sent' }]);

  assert.deepEqual(sent, [first.usageXml, second.usageXml]);
  const ca = new X509Certificate(master.caPem);
  let previous = '';
  for (const [index, document] of sent.entries()) {
    const seal = readUsageSeal(document);
    assert.ok(seal, `journal ${index + 1} is sealed`);
    assert.ok(verifyUsageSeal(seal), `journal ${index + 1} verifies`);
    assert.deepEqual([seal.sequence, seal.previous], [index + 1, previous]);
    const certificate = new X509Certificate(seal.certificatePem);
    assert.ok(certificate.verify(ca.publicKey), 'signed with the certificate the master issued');
    assert.equal(commonNameOf(certificate), config.computerId);
    previous = usageDocumentHash(document);
  }
  // The master verified the seals and keeps both journals, as sent, as links of the node's chain.
  const store = await openMasterStore(
    { kind: 'sqlite', path: join(master.dir, MASTER_DATABASE_FILE) },
    { backgroundCheckpointAfter: Infinity },
  );
  try {
    const journals = await store.read((r) =>
      r.listUsageJournals({ computeNodeId: config.computerId, limit: 10 }),
    );
    assert.deepEqual(
      journals.map((j) => [j.seal?.sequence, j.seal?.previousHash, j.document]),
      sent.map((document, index) => [
        index + 1,
        index === 0 ? '' : usageDocumentHash(sent[index - 1] ?? ''),
        document,
      ]),
    );
  } finally {
    await store.close();
  }
  const cpu = parseUsageJournal(second.usageXml ?? '').find((m) => m.resource === 'service_module/cpu_time');
  assert.deepEqual([cpu?.start, cpu?.stop, cpu?.quantity], [clock.now() - 300, clock.now(), 6]);
});
