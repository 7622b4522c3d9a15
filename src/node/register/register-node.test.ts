import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import {
  openCertificateAuthority,
  type CertificateAuthority,
} from '../../master/ca/certificate-authority.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { loadNodeConfig } from '../config.ts';
import { registerNode, type NodeRegistrar, type RegisterNodeInput } from './register-node.ts';

let dir: string;
let ca: CertificateAuthority;
let count = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slapos-register-'));
  ca = await openCertificateAuthority({
    dir: join(dir, 'master'),
    hostNames: [],
    clock: fixedClock(Date.now() / 1000),
    logger: silentLogger(),
  });
});
after(() => rm(dir, { recursive: true, force: true }));

/** A master that registers every request as the next COMP-n (or answers what `answer` returns). */
function registrar(
  answer?: (csrPem: string) => Promise<{ computerGuid: string; certificate: string }>,
): NodeRegistrar & {
  titles: string[];
} {
  const titles: string[] = [];
  return {
    titles,
    async registerComputeNode(input) {
      titles.push(input.title);
      if (answer) return { ...(await answer(input.certificateRequest)), caCertificate: ca.caCertificatePem };
      const computerGuid = `COMP-${++count}`;
      const issued = await ca.signRequest(input.certificateRequest, {
        kind: 'compute_node',
        id: computerGuid,
        validityDays: 30,
      });
      return { computerGuid, certificate: issued.certificatePem, caCertificate: ca.caCertificatePem };
    },
  };
}

function request(configDir: string, overrides: Partial<RegisterNodeInput> = {}): RegisterNodeInput {
  return {
    name: 'my laptop',
    masterUrl: 'https://127.0.0.1:8443',
    masterCaPem: ca.caCertificatePem,
    configDir,
    sandbox: true,
    force: false,
    partitionNumber: 3,
    interfaceName: undefined,
    ipv4LocalNetwork: undefined,
    softwareRoot: undefined,
    instanceRoot: undefined,
    ...overrides,
  };
}

test('registration writes the key (0600), the certificate, the master CA and a slapos.cfg node commands load', async () => {
  const configDir = join(dir, 'node-1');
  const master = registrar();
  const registered = await registerNode(request(configDir), master);
  assert.deepEqual(master.titles, ['my laptop']);
  assert.match(registered.computerId, /^COMP-\d+$/);
  const { layout } = registered;
  assert.equal((await stat(layout.keyFile)).mode & 0o777, 0o600);
  assert.equal((await stat(layout.certFile)).mode & 0o777, 0o600);
  assert.equal((await stat(layout.certificateRepository)).mode & 0o777, 0o711);
  assert.equal(await readFile(layout.masterCaFile, 'utf8'), ca.caCertificatePem);
  const certificate = new X509Certificate(await readFile(layout.certFile));
  assert.ok(certificate.checkPrivateKey(createPrivateKey(await readFile(layout.keyFile))));
  assert.ok(certificate.verify(new X509Certificate(ca.caCertificatePem).publicKey));
  const config = await loadNodeConfig({ cfg: registered.configFile, isRoot: false });
  assert.equal(config.computerId, registered.computerId);
  assert.equal(config.masterUrl, 'https://127.0.0.1:8443/');
  assert.equal(config.keyFile, layout.keyFile);
  assert.equal(config.certFile, layout.certFile);
  assert.equal(config.masterCaFile, layout.masterCaFile);
  assert.equal(config.certificateRepositoryPath, layout.certificateRepository);
  assert.equal(config.sandbox, true);
  assert.equal(config.instanceRoot, join(configDir, 'inst'));
  assert.equal(config.softwareRoot, join(configDir, 'soft'));
  assert.equal(config.formatOptions.partition_amount, '3');
});

test('an existing configuration is refused unless --force, before the token is spent', async () => {
  const configDir = join(dir, 'node-2');
  await registerNode(request(configDir), registrar());
  const first = await readFile(join(configDir, 'slapos.cfg'), 'utf8');
  const master = registrar();
  await assert.rejects(
    registerNode(request(configDir), master),
    (error) =>
      error instanceof SlapError && error.code === 'SLAP_ERR_CONFIG' && /--force/.test(error.hint ?? ''),
  );
  assert.equal(master.titles.length, 0);
  const again = await registerNode(request(configDir, { force: true }), master);
  assert.notEqual(await readFile(again.configFile, 'utf8'), first);
});

test('hostile names, paths and plain-http URLs are refused before any call; accepted names go as they are', async () => {
  const random = seededRandom(11);
  let accepted = 0;
  for (let i = 0; i < 300; i++) {
    const value = hostileString(random);
    const configDir = join(dir, `hostile-${i}`);
    const field = (['name', 'softwareRoot', 'interfaceName'] as const)[i % 3] as
      'name' | 'softwareRoot' | 'interfaceName';
    const overrides = field === 'softwareRoot' ? { softwareRoot: `/srv/${value}` } : { [field]: value };
    const master = registrar();
    try {
      const registered = await registerNode(request(configDir, overrides), master);
      accepted++;
      const config = await loadNodeConfig({ cfg: registered.configFile, isRoot: false });
      if (field === 'name') assert.deepEqual(master.titles, [value]);
      if (field === 'softwareRoot') assert.equal(config.softwareRoot, `/srv/${value}`);
      if (field === 'interfaceName') assert.equal(config.formatOptions.interface_name, value);
    } catch (error) {
      assert.ok(error instanceof SlapError, String(error));
      assert.ok(['SLAP_ERR_USAGE', 'SLAP_ERR_CONFIG'].includes(error.code), error.code);
      assert.equal(master.titles.length, 0, 'refused before the token is used');
      await assert.rejects(stat(join(configDir, 'slapos.cfg')), { code: 'ENOENT' });
    }
  }
  assert.ok(accepted > 10, `${accepted} accepted`);
  const master = registrar();
  await assert.rejects(
    registerNode(request(join(dir, 'http'), { masterUrl: 'http://127.0.0.1:8080' }), master),
    /https only/,
  );
  assert.equal(master.titles.length, 0);
});

test("a master answer that is not this node's certificate, or a hostile compute node id: refused, nothing written", async () => {
  const configDir = join(dir, 'node-bad');
  const answers = [
    async () => {
      const issued = await ca.issueKeyAndCertificate({
        kind: 'compute_node',
        id: 'COMP-99',
        validityDays: 30,
      });
      return { computerGuid: 'COMP-99', certificate: issued.certificatePem };
    },
    async (csrPem: string) => ({
      computerGuid: 'COMP-1\n[slapos]',
      certificate: (await ca.signRequest(csrPem, { kind: 'compute_node', id: 'COMP-1', validityDays: 30 }))
        .certificatePem,
    }),
    async (csrPem: string) => ({
      computerGuid: 'COMP-7',
      certificate: (await ca.signRequest(csrPem, { kind: 'compute_node', id: 'COMP-8', validityDays: 30 }))
        .certificatePem,
    }),
  ];
  for (const answer of answers) {
    await assert.rejects(
      registerNode(request(configDir), registrar(answer)),
      (error) => error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE',
    );
    await assert.rejects(stat(join(configDir, 'slapos.cfg')), { code: 'ENOENT' });
    await assert.rejects(stat(join(configDir, 'ssl', 'computer.key')), { code: 'ENOENT' });
  }
});
