/**
 * A node of a master in master mode, through the commands a person types: a user makes a
 * registration token (`slapos token create`), the machine registers with it (`slapos node register
 * --sandbox`), then `node format`, `node software` and `node instance` work at once over mutual TLS
 * with the written slapos.cfg. The instance gets its own key and certificate in the partition
 * certificate repository, and its recipes act as the instance: its publish works from a buildout
 * run that holds nothing but the instance's certificate. The token is never printed by register,
 * and works once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MasterClient } from '../src/client/master-client.ts';
import { createMasterClient } from '../src/client/master-api.ts';
import { EXIT } from '../src/core/errors.ts';
import { loadNodeConfig, type NodeConfig } from '../src/node/config.ts';
import { commonNameOf } from '../src/node/issued-certificate.ts';
import { createNodeMasterClient } from '../src/node/master.ts';
import { renewNodeCertificateIfDue } from '../src/node/node-certificate.ts';
import { SupervisorClient } from '../src/node/supervisor/client.ts';
import { supervisorPaths } from '../src/node/supervisor/paths.ts';
import { runSlapos } from '../src/testing/cli.ts';
import { isolatedClientEnv } from '../src/testing/client-env.ts';
import { startTestMasterMode, type TestMasterMode } from '../src/testing/master-mode.ts';
import { writeSoftwareRelease } from '../src/testing/node-passes.ts';
import { waitFor } from '../src/testing/supervisor.ts';
import { slaposBinPath } from '../src/lib/package-root.ts';
import { spawnDetached, terminate } from '../src/standalone/processes.ts';

const PUBLISHER = `[buildout]
parts = publish

[slap-configuration]
recipe = slapos.cookbook:slapconfiguration
computer = $\${slap-connection:computer-id}
partition = $\${slap-connection:partition-id}
url = $\${slap-connection:server-url}
key = $\${slap-connection:key-file}
cert = $\${slap-connection:cert-file}

[publish]
recipe = slapos.cookbook:publish
greeting = hello $\${slap-configuration:configuration.name}
`;

let master: TestMasterMode;
let dir: string;
let env: NodeJS.ProcessEnv;
let caFile: string;
let clientCfg: string;
let alice: MasterClient;
const secrets: string[] = [];

before(async () => {
  master = await startTestMasterMode();
  dir = await mkdtemp(join(tmpdir(), 'slapos-e2e-mm-'));
  env = isolatedClientEnv();
  caFile = join(dir, 'master-ca.pem');
  await writeFile(caFile, master.caPem);
  const { token } = await master.admin.addUser({ name: 'alice', admin: false });
  secrets.push(token);
  clientCfg = join(dir, 'alice.cfg');
  const configure = await runSlapos(
    [
      'configure',
      'client',
      '--master-url',
      master.url,
      '--token',
      token,
      '--ca-file',
      caFile,
      '--cfg',
      clientCfg,
    ],
    { env },
  );
  assert.equal(configure.code, 0, configure.stderr);
  alice = createMasterClient({
    api: 'json',
    masterUrl: master.url,
    accessToken: token,
    tls: { ca: master.caPem },
  });
});

after(async () => {
  await alice.close();
  await master.close();
  await rm(dir, { recursive: true, force: true });
});

/** Registers a sandbox node in `dir/<name>` with a fresh token; its slapos.cfg. */
async function registerNode(name: string, partitions: number): Promise<string> {
  const token = await registrationToken();
  const run = await runSlapos(
    ['node', 'register', name, '--master-url', master.url, '--token', token, '--ca-file', caFile].concat([
      '--config-dir',
      join(dir, name),
      '--sandbox',
      '--partition-number',
      String(partitions),
      '--json',
    ]),
    { env },
  );
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as { config_file: string }).config_file;
}

async function registrationToken(): Promise<string> {
  const run = await runSlapos(['token', 'create', '--cfg', clientCfg, '--expires', '10m', '--json'], { env });
  assert.equal(run.code, 0, run.stderr);
  const answer = JSON.parse(run.stdout) as { token: string; expires: string };
  assert.ok(Date.parse(answer.expires) > Date.now(), answer.expires);
  secrets.push(answer.token);
  return answer.token;
}

function assertNoSecret(text: string): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), 'a token was printed');
  assert.ok(!text.includes('PRIVATE KEY'), 'a key was printed');
}

test('register with a token, then format, software and instance over mutual TLS; the instance acts as itself', async () => {
  const token = await registrationToken();
  const configDir = join(dir, 'node');
  const register = await runSlapos(
    [
      'node',
      'register',
      'laptop of alice',
      '--master-url',
      master.url,
      '--token',
      token,
      '--ca-file',
      caFile,
      '--config-dir',
      configDir,
      '--sandbox',
      '--partition-number',
      '2',
      '--json',
    ],
    { env },
  );
  assert.equal(register.code, 0, register.stderr);
  assertNoSecret(register.stdout + register.stderr);
  const registered = JSON.parse(register.stdout) as { computer_id: string; config_file: string };
  assert.match(registered.computer_id, /^COMP-\d+$/);
  const cfg = registered.config_file;
  assert.equal(cfg, join(configDir, 'slapos.cfg'));
  assert.equal((await stat(join(configDir, 'ssl', 'computer.key'))).mode & 0o777, 0o600);

  // The token worked once.
  const again = await runSlapos(
    ['node', 'register', 'again', '--master-url', master.url, '--token', token, '--ca-file', caFile],
    { env: { ...env }, cwd: dir },
  );
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /refused the registration token/);
  assertNoSecret(again.stdout + again.stderr);

  const format = await runSlapos(['node', 'format', '--now', '--cfg', cfg], { env });
  assert.equal(format.code, 0, format.stderr);
  const config = await loadNodeConfig({ cfg, isRoot: false });
  assert.equal(config.computerId, registered.computer_id);

  const url = await writeSoftwareRelease(dir, 'publisher', { instance: PUBLISHER });
  await alice.supply({ softwareReleaseUri: url, computerGuid: config.computerId });
  const software = await runSlapos(['node', 'software', '--cfg', cfg], { env });
  assert.equal(software.code, 0, software.stderr);

  const requested = await alice.requestInstance({
    title: 'hello',
    softwareReleaseUri: url,
    parameters: { name: 'Alice' },
  });
  try {
    const instance = await runSlapos(['node', 'instance', '--cfg', cfg], { env });
    assert.equal(instance.code, 0, instance.stdout + instance.stderr);
    assertNoSecret(
      format.stdout + format.stderr + software.stdout + software.stderr + instance.stdout + instance.stderr,
    );

    const tree = await alice.getInstanceTree('hello');
    assert.equal(tree.connection_parameters.greeting, 'hello Alice');
    const partition = tree.compute_partition_id;
    const pki = config.certificateRepositoryPath as string;
    const keyFile = join(pki, `${partition}.key`);
    const certFile = join(pki, `${partition}.crt`);
    for (const file of [keyFile, certFile]) assert.equal((await stat(file)).mode & 0o777, 0o600);
    const certificate = new X509Certificate(await readFile(certFile));
    assert.equal(commonNameOf(certificate), tree.instance_guid);
    assert.equal(requested.instance_guid, tree.instance_guid);
    const profile = await readFile(join(config.instanceRoot, partition, 'buildout.cfg'), 'utf8');
    assert.match(profile, new RegExp(`^key-file = ${keyFile}$`, 'm'));
    assert.match(profile, new RegExp(`^cert-file = ${certFile}$`, 'm'));
    assert.match(profile, new RegExp(`^master-ca-file = ${join(configDir, 'ssl', 'master-ca.crt')}$`, 'm'));

    // A buildout run holding only the instance's certificate publishes as the instance.
    const alone = join(dir, 'as-instance');
    await mkdir(alone, { recursive: true });
    await writeFile(
      join(alone, 'buildout.cfg'),
      [
        '[buildout]',
        'parts = publish',
        '[slap-connection]',
        `computer-id = ${config.computerId}`,
        `partition-id = ${partition}`,
        `server-url = ${config.masterUrl}`,
        `key-file = ${keyFile}`,
        `cert-file = ${certFile}`,
        `master-ca-file = ${config.masterCaFile ?? ''}`,
        '[publish]',
        'recipe = slapos.cookbook:publish',
        'proof = published by the instance itself',
        '',
      ].join('\n'),
    );
    const run = await runSlapos(['buildout', '-c', join(alone, 'buildout.cfg')], { env, cwd: alone });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(
      (await alice.getInstanceTree('hello')).connection_parameters.proof,
      'published by the instance itself',
    );

    // A second pass does not ask for another certificate: the files stay.
    const before = await readFile(certFile, 'utf8');
    const second = await runSlapos(['node', 'instance', '--cfg', cfg, '--force'], { env });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(await readFile(certFile, 'utf8'), before);

    // Another issuance revokes the partition's certificate: the next run is refused, forgets it,
    // and the run after fetches a new one.
    const node = await createNodeMasterClient(config);
    try {
      await node.getInstanceCertificate(tree.instance_guid);
    } finally {
      await node.close();
    }
    const refused = await runSlapos(['node', 'instance', '--cfg', cfg, '--force'], { env });
    assert.notEqual(refused.code, 0, 'the revoked certificate is refused');
    await assert.rejects(stat(certFile), { code: 'ENOENT' });
    const recovered = await runSlapos(['node', 'instance', '--cfg', cfg], { env });
    assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr);
    assert.notEqual(await readFile(certFile, 'utf8'), before);

    // Destroyed: `node report` empties the partition and removes its key and certificate.
    await alice.requestInstance({ title: 'hello', softwareReleaseUri: url, state: 'destroyed' });
    const stop = await runSlapos(['node', 'instance', '--cfg', cfg], { env });
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    const report = await runSlapos(['node', 'report', '--cfg', cfg], { env });
    assert.equal(report.code, 0, report.stdout + report.stderr);
    for (const file of [keyFile, certFile]) await assert.rejects(stat(file), { code: 'ENOENT' });
  } finally {
    await new SupervisorClient({ socketPath: supervisorPaths(config.instanceRoot).socket })
      .shutdown({ stopPrograms: true })
      .catch(() => undefined);
  }
});

test('without --ca-file a master whose CA the system does not trust is refused with a hint; the token is not spent', async () => {
  // Without --json: the token alone on stdout (for scripts), its expiry on stderr.
  const created = await runSlapos(['token', 'create', '--cfg', clientCfg], { env });
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /^[A-Za-z0-9_-]{43}\n$/);
  assert.match(created.stderr, /works once, until \d{4}-/);
  const token = created.stdout.trim();
  secrets.push(token);
  const args = [
    'node',
    'register',
    'cautious',
    '--master-url',
    master.url,
    '--token',
    token,
    '--sandbox',
    '--json',
  ];
  const untrusted = await runSlapos([...args, '--config-dir', join(dir, 'cautious')], { env });
  assert.equal(untrusted.code, EXIT.unavailable, untrusted.stderr);
  assert.match(untrusted.stderr, /--ca-file/);
  assertNoSecret(untrusted.stdout + untrusted.stderr);
  await assert.rejects(stat(join(dir, 'cautious', 'slapos.cfg')), { code: 'ENOENT' });
  const trusted = await runSlapos([...args, '--config-dir', join(dir, 'cautious'), '--ca-file', caFile], {
    env,
  });
  assert.equal(trusted.code, 0, trusted.stderr);
});

test('renewal over mutual TLS: new key and certificate written, the same client goes on with them', async () => {
  const token = await registrationToken();
  const configDir = join(dir, 'renewing');
  const register = await runSlapos(
    [
      'node',
      'register',
      'renewing',
      '--master-url',
      master.url,
      '--token',
      token,
      '--ca-file',
      caFile,
    ].concat(['--config-dir', configDir, '--sandbox', '--json']),
    { env },
  );
  assert.equal(register.code, 0, register.stderr);
  const config: NodeConfig = await loadNodeConfig({ cfg: join(configDir, 'slapos.cfg'), isRoot: false });
  const client = await createNodeMasterClient(config);
  try {
    const oldCertificate = await readFile(config.certFile as string, 'utf8');
    const notAfter = Date.parse(new X509Certificate(oldCertificate).validTo) / 1000;
    // Twenty-one days of thirty gone: less than a third left.
    const outcome = await renewNodeCertificateIfDue(config, client, { now: notAfter - 9 * 86400 });
    assert.equal(outcome, 'renewed');
    const renewed = await readFile(config.certFile as string, 'utf8');
    assert.notEqual(renewed, oldCertificate);
    assert.equal(commonNameOf(new X509Certificate(renewed)), config.computerId);
    assert.equal((await stat(config.keyFile as string)).mode & 0o777, 0o600);
    // The client uses the new pair for its next calls.
    assert.deepEqual(await client.listSoftwareInstallations(config.computerId), []);
  } finally {
    await client.close();
  }
});

const PARENT = (leaf: string): string => `[buildout]
parts = child publish

[child]
recipe = slapos.cookbook:request
name = child
software-url = ${leaf}
server-url = $\${slap-connection:server-url}
key-file = $\${slap-connection:key-file}
cert-file = $\${slap-connection:cert-file}
computer-id = $\${slap-connection:computer-id}
partition-id = $\${slap-connection:partition-id}
sla-computer_guid = $\${slap-connection:computer-id}
config-name = Bob
return = greeting

[publish]
recipe = slapos.cookbook:publish
child-greeting = $\${child:connection-greeting}
`;

test('an instance requests its child as itself (no requester headers); the child is deployed with its own certificate', async () => {
  const cfg = await registerNode('family-node', 2);
  const config = await loadNodeConfig({ cfg, isRoot: false });
  const format = await runSlapos(['node', 'format', '--now', '--cfg', cfg], { env });
  assert.equal(format.code, 0, format.stderr);
  const leaf = await writeSoftwareRelease(dir, 'leaf', { instance: PUBLISHER });
  const parent = await writeSoftwareRelease(dir, 'parent', { instance: PARENT(leaf) });
  for (const url of [leaf, parent])
    await alice.supply({ softwareReleaseUri: url, computerGuid: config.computerId });
  const software = await runSlapos(['node', 'software', '--cfg', cfg], { env });
  assert.equal(software.code, 0, software.stderr);
  await alice.requestInstance({
    title: 'family',
    softwareReleaseUri: parent,
    slaParameters: { computer_guid: config.computerId },
  });
  try {
    // The root requests the child, which is deployed at the next pass and publishes; the root then
    // reads the child's greeting.
    let greeting: unknown;
    for (let pass = 0; pass < 4 && greeting === undefined; pass++) {
      await runSlapos(['node', 'instance', '--cfg', cfg], { env });
      greeting = (await alice.getInstanceTree('family')).connection_parameters['child-greeting'];
      if (greeting === '') greeting = undefined;
    }
    assert.equal(greeting, 'hello Bob');
    const pki = config.certificateRepositoryPath as string;
    const subjects = await Promise.all(
      ['slappart0', 'slappart1'].map(async (partition) =>
        commonNameOf(new X509Certificate(await readFile(join(pki, `${partition}.crt`)))),
      ),
    );
    assert.equal(new Set(subjects).size, 2, 'each instance has its own certificate');
    for (const subject of subjects) assert.match(subject ?? '', /^SOFTINST-\d+$/);
  } finally {
    await new SupervisorClient({ socketPath: supervisorPaths(config.instanceRoot).socket })
      .shutdown({ stopPrograms: true })
      .catch(() => undefined);
  }
});

test('slapos node run: the agent deploys over mutual TLS, its log holds no token or key', async () => {
  const cfg = await registerNode('agent-node', 1);
  const config = await loadNodeConfig({ cfg, isRoot: false });
  const format = await runSlapos(['node', 'format', '--now', '--cfg', cfg], { env });
  assert.equal(format.code, 0, format.stderr);
  const logFile = join(dir, 'agent-node.log');
  const agent = await spawnDetached([slaposBinPath(), 'node', 'run', '--cfg', cfg], { logFile, cwd: dir });
  try {
    const url = await writeSoftwareRelease(dir, 'agent-publisher', { instance: PUBLISHER });
    await alice.supply({ softwareReleaseUri: url, computerGuid: config.computerId });
    await alice.requestInstance({
      title: 'agent-hello',
      softwareReleaseUri: url,
      parameters: { name: 'Agent' },
      slaParameters: { computer_guid: config.computerId },
    });
    const greeting = await waitFor(
      'the agent to deploy agent-hello',
      async () => {
        if (agent.exited() !== undefined)
          throw new Error(`node run exited: ${await readFile(logFile, 'utf8')}`);
        const value = (await alice.getInstanceTree('agent-hello')).connection_parameters.greeting;
        return value === undefined || value === '' ? undefined : value;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(greeting, 'hello Agent');
  } finally {
    await terminate(agent.pid, 10_000);
    await new SupervisorClient({ socketPath: supervisorPaths(config.instanceRoot).socket })
      .shutdown({ stopPrograms: true })
      .catch(() => undefined);
  }
  assertNoSecret(await readFile(logFile, 'utf8'));
});
