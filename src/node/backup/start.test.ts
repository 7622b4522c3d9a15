/**
 * The backup agent as `slapos node run` starts it: `[backup] listen` starts the repository server
 * (its self-signed certificate advertised to the master in the sync, the one it presents), which
 * accepts a node certificate of the master's CA only for a tree the master named it a writer of;
 * a repository server needs the node's master-mode files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { systemClock } from '../../core/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { freePort } from '../../standalone/config-file.ts';
import { openTestCertificateAuthority } from '../../testing/master-mode-services.ts';
import { parseNodeConfig } from '../config.ts';
import type { SupervisorControl } from '../supervisor/types.ts';
import { startNodeBackup } from './start.ts';
import type { BackupSyncRequest } from './sync-protocol.ts';

function get(
  url: string,
  tls: { ca: string; cert: string; key: string },
): Promise<{ status: number; peer: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/tree-17/config`, { ...tls, method: 'GET' }, (response) => {
      const peer = (response.socket as TLSSocket).getPeerX509Certificate()?.toString() ?? '';
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, peer }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('listen starts the repository server; its certificate goes to the master; writers only', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'backup-start-'));
  const { ca, close } = await openTestCertificateAuthority(systemClock);
  t.after(async () => {
    await close();
    await rm(dir, { recursive: true, force: true });
  });
  const node = await ca.issueKeyAndCertificate({ kind: 'compute_node', id: 'COMP-2', validityDays: 30 });
  const writer = await ca.issueKeyAndCertificate({ kind: 'compute_node', id: 'COMP-1', validityDays: 30 });
  const stranger = await ca.issueKeyAndCertificate({ kind: 'compute_node', id: 'COMP-3', validityDays: 30 });
  await writeFile(join(dir, 'node.key'), node.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'node.crt'), node.certificatePem);
  await writeFile(join(dir, 'ca.crt'), ca.caCertificatePem);
  await mkdir(join(dir, 'instance', 'slappart0'), { recursive: true });
  await writeFile(join(dir, 'instance', 'slappart0', '.slapos-resource'), '{}');
  const port = await freePort();
  const base = `[slapos]\ncomputer_id = COMP-2\nmaster_url = https://127.0.0.1:1/\nsoftware_root = ${dir}/software\ninstance_root = ${dir}/instance\n`;
  const masterMode = `key_file = ${dir}/node.key\ncert_file = ${dir}/node.crt\nmaster_ca_file = ${dir}/ca.crt\ncertificate_repository_path = ${dir}/pki\n`;
  const bodies: BackupSyncRequest[] = [];
  const master = {
    syncBackups: (body: BackupSyncRequest) => {
      bodies.push(body);
      return Promise.resolve({
        heartbeat_interval: 5,
        partition_list: [
          {
            partition_id: 'slappart0',
            instance_guid: 'SOFTINST-2',
            repository: 'tree-17',
            password: 'secret-password-of-the-tree',
            role: 'clone' as const,
            epoch: 0,
            targets: [],
            writers: ['COMP-1'],
            readers: [],
            backup_requested_at: null,
            restore_request: null,
          },
        ],
      });
    },
  };
  const supervisor = { status: () => Promise.resolve({ processes: [] }) } as unknown as SupervisorControl;
  const listen = `[backup]\nlisten = 127.0.0.1:${port}\nheartbeat = 3600\n`;

  await assert.rejects(
    startNodeBackup(parseNodeConfig(`${base}\n${listen}`, { file: join(dir, 'slapos.cfg'), isRoot: false }), {
      master,
      supervisor,
      logger: silentLogger(),
    }),
    /master mode/,
  );

  const config = parseNodeConfig(`${base}${masterMode}\n${listen}`, {
    file: join(dir, 'slapos.cfg'),
    isRoot: false,
  });
  const backup = await startNodeBackup(config, { master, supervisor, logger: silentLogger() });
  t.after(() => backup.close({ graceMs: 1000 }));
  assert.equal(backup.serverUrl, `https://127.0.0.1:${port}`);
  await backup.agent.syncOnce();
  const advertised = bodies.at(-1)?.repository;
  assert.equal(advertised?.url, `https://127.0.0.1:${port}`);
  assert.ok(advertised);
  const tls = (issued: { keyPem: string; certificatePem: string }) => ({
    ca: advertised.certificate,
    cert: issued.certificatePem,
    key: issued.keyPem,
  });
  const answer = await get(advertised.url, tls(writer));
  assert.equal(answer.status, 404, 'the writer gets through (no repository yet)');
  assert.equal(
    new X509Certificate(answer.peer).fingerprint256,
    new X509Certificate(advertised.certificate).fingerprint256,
    'the certificate advertised is the one presented',
  );
  assert.equal((await get(advertised.url, tls(stranger))).status, 403, 'another node is refused');
});
