/**
 * A certificate is signed outside the store's transactions: whatever happens to its holder
 * meanwhile (an instance destroyed, a compute node revoked) must still count when it is recorded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { accessTokenHash } from '../../lib/access-token.ts';
import { createKeyAndCertificateRequest } from '../../lib/certificate-request.ts';
import {
  openMasterModeServices,
  openTestCertificateAuthority,
  type MasterModeServices,
} from '../../testing/master-mode-services.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { Caller } from './index.ts';

const SR = 'https://example.com/sr.cfg';
const clock = fixedClock(1_700_000_000);
const node1: Caller = { kind: 'compute_node', computeNodeId: 'COMP-1' };
let testCa: Awaited<ReturnType<typeof openTestCertificateAuthority>>;
let realCa: CertificateAuthority;

before(async () => {
  testCa = await openTestCertificateAuthority(clock);
  realCa = testCa.ca;
});
after(() => testCa.close());

/** A CA whose signatures wait until `release()`; `signing` settles once one is waiting. */
function pausedCa(): { ca: CertificateAuthority; signing: Promise<void>; release: () => void } {
  let started!: () => void;
  let release!: () => void;
  const signing = new Promise<void>((resolve) => (started = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const wait = async (): Promise<void> => {
    started();
    await released;
  };
  return {
    signing,
    release,
    ca: {
      ...realCa,
      async signRequest(csr, options) {
        await wait();
        return realCa.signRequest(csr, options);
      },
      async issueKeyAndCertificate(options) {
        await wait();
        return realCa.issueKeyAndCertificate(options);
      },
    },
  };
}

/** alice's COMP-1 with her instance SOFTINST-1 on slappart0. */
async function aliceWorld(ca: CertificateAuthority): Promise<MasterModeServices> {
  const world = await openMasterModeServices({ clock, ca });
  const { services, setUp, format, request } = world;
  await setUp({ users: ['alice'], nodes: [{ owner: 'alice', title: 'one' }] });
  const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
  await format('COMP-1', 1);
  await services.supplySoftware({ caller: alice, computeNodeId: 'COMP-1', url: SR, state: 'available' });
  const requested = await request(alice, 'tree', SR);
  assert.deepEqual([requested.instanceGuid, requested.partitionId], ['SOFTINST-1', 'slappart0']);
  return world;
}

test('an instance destroyed while its certificate is signed gets none, and no valid certificate is left', async () => {
  const paused = pausedCa();
  const { store, services } = await aliceWorld(paused.ca);
  try {
    const asked = services.instanceCertificate({ caller: node1, instanceGuid: 'SOFTINST-1' });
    await paused.signing;
    const destroyed = await services.reportInstanceState({
      caller: node1,
      instanceGuid: 'SOFTINST-1',
      reportedState: 'destroyed',
    });
    assert.equal(destroyed, 'Destroyed');
    paused.release();
    await assert.rejects(asked, { code: 'SLAP_ERR_INSTANCE_NOT_FOUND' });
    const records = await store.read((repository) => repository.listCertificates({ subject: 'SOFTINST-1' }));
    assert.deepEqual(
      records.filter((record) => record.revokedAt === null),
      [],
    );
  } finally {
    await store.close();
  }
});

test('a compute node revoked while its renewal is signed gets no certificate, and none is left valid', async () => {
  const paused = pausedCa();
  const { store, services } = await aliceWorld(paused.ca);
  try {
    const { csrPem } = await createKeyAndCertificateRequest('COMP-1');
    const asked = services.renewComputeNodeCertificate({
      caller: node1,
      computeNodeId: 'COMP-1',
      certificateRequest: csrPem,
    });
    await paused.signing;
    await store.write(async (repository) => {
      assert.equal(await repository.setComputeNodeRevoked('COMP-1', clock.now()), true);
      await repository.revokeCertificates({ kind: 'compute_node', subject: 'COMP-1', now: clock.now() });
    });
    paused.release();
    await assert.rejects(asked, { code: 'SLAP_ERR_UNAUTHENTICATED' });
    const records = await store.read((repository) => repository.listCertificates({ subject: 'COMP-1' }));
    assert.deepEqual(
      records.filter((record) => record.revokedAt === null),
      [],
    );
  } finally {
    await store.close();
  }
});

test('a shared instance gets no certificate: it has no partition of its own', async () => {
  const { store, services, request } = await aliceWorld(realCa);
  try {
    const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
    const shared = await request(alice, 'a shared one', SR, { shared: true });
    assert.equal(shared.partitionId, 'slappart0', 'hosted by the instance on slappart0');
    await assert.rejects(services.instanceCertificate({ caller: node1, instanceGuid: shared.instanceGuid }), {
      code: 'SLAP_ERR_INSTANCE_NOT_FOUND',
    });
    assert.deepEqual(
      await store.read((repository) => repository.listCertificates({ subject: shared.instanceGuid })),
      [],
    );
  } finally {
    await store.close();
  }
});

test('one registration token, two registrations at once: exactly one compute node is registered', async () => {
  const { store, services, setUp } = await openMasterModeServices({ clock, ca: realCa });
  try {
    await setUp({ users: ['alice'], nodes: [] });
    const { token } = await services.createRegistrationToken({
      caller: { kind: 'user', userId: 'alice', admin: false },
    });
    const registrant: Caller = { kind: 'registrant', userId: 'alice', tokenHash: accessTokenHash(token) };
    const requests = await Promise.all([0, 1, 2].map(() => createKeyAndCertificateRequest()));
    const outcomes = await Promise.allSettled(
      requests.map(({ csrPem }, index) =>
        services.registerComputeNode({
          caller: registrant,
          title: `node-${index}`,
          certificateRequest: csrPem,
        }),
      ),
    );
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1);
    for (const outcome of outcomes)
      if (outcome.status === 'rejected')
        assert.equal((outcome.reason as { code?: string }).code, 'SLAP_ERR_UNAUTHENTICATED');
    const nodes = await store.read((repository) => repository.listComputeNodeAccess());
    assert.deepEqual(
      nodes.map((node) => [node.reference, node.owner]),
      [['COMP-1', 'alice']],
    );
  } finally {
    await store.close();
  }
});

test('a registration whose certificate cannot be signed leaves no compute node and gives the token back', async () => {
  let failures = 1;
  const flaky: CertificateAuthority = {
    ...realCa,
    async signRequest(csr, options) {
      if (failures-- > 0) throw new Error('signing failed');
      return realCa.signRequest(csr, options);
    },
  };
  const { store, services, setUp } = await openMasterModeServices({ clock, ca: flaky });
  try {
    await setUp({ users: ['alice'], nodes: [] });
    const { token } = await services.createRegistrationToken({
      caller: { kind: 'user', userId: 'alice', admin: false },
    });
    const registrant: Caller = { kind: 'registrant', userId: 'alice', tokenHash: accessTokenHash(token) };
    const { csrPem } = await createKeyAndCertificateRequest();
    const register = () =>
      services.registerComputeNode({ caller: registrant, title: 'one', certificateRequest: csrPem });
    await assert.rejects(register(), /signing failed/);
    assert.deepEqual(await store.read((repository) => repository.listComputeNodeAccess()), []);
    const again = await register();
    assert.match(again.computeNodeId, /^COMP-\d+$/);
    assert.equal(
      (await store.read((repository) => repository.getRegistrationToken(accessTokenHash(token))))?.usedAt,
      clock.now(),
    );
  } finally {
    await store.close();
  }
});
