/**
 * Identity storage of master mode: the cost of the lookups every authenticated request makes
 * (a bearer token's user, a compute node's access) and of the writes of registration and
 * certificate issuance, each as one use case (transaction) of the SQLite store, on a database of
 * `--users` users each owning a compute node with a few friends and certificates.
 *
 *   npm run bench -- identities [--users 1000] [--rounds 5000]
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../src/master/storage/sqlite-store.ts';

const { values } = parseArgs({
  options: { users: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5000' } },
});
const users = Number(values.users);
const rounds = Number(values.rounds);

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');
const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-identities-'));
const store = await openSqliteStore({ path: join(directory, 'master.db') });

try {
  const nodes: string[] = [];
  await store.write(async (repository) => {
    for (let i = 0; i < users; i++) {
      const name = `user${i}`;
      await repository.insertUser({ name, admin: false, now: 1 });
      await repository.insertUserToken({ tokenHash: digest(`token${i}`), user: name, now: 1 });
    }
    for (let i = 0; i < users; i++) {
      const node = await repository.registerComputeNode({ owner: `user${i}`, title: `node ${i}`, now: 1 });
      nodes.push(node);
      const friends = [1, 2, 3].map((offset) => `user${(i + offset) % users}`);
      await repository.setComputeNodeAccess(node, { allocationScope: 'friend', friends });
      for (let c = 0; c < 3; c++) {
        await repository.insertCertificate({
          serial: digest(`${node}:${c}`).slice(0, 32),
          kind: 'compute_node',
          subject: node,
          notAfter: 9e9,
          revokedAt: null,
          createdAt: c,
        });
      }
    }
  });

  async function measure(name: string, count: number, run: (i: number) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < Math.min(200, count); i++) await run(i); // warm-up
    const started = performance.now();
    for (let i = 0; i < count; i++) await run(i);
    const perOp = ((performance.now() - started) * 1000) / count;
    process.stdout.write(`${name.padEnd(44)} ${perOp.toFixed(1).padStart(8)} µs/use case\n`);
  }

  process.stdout.write(`${users} users, ${users} compute nodes, ${3 * users} certificates\n`);
  await measure('read: findUserByTokenHash', rounds, (i) =>
    store.read((repository) => repository.findUserByTokenHash(digest(`token${i % users}`))),
  );
  const hashes = Array.from({ length: users }, (_, i) => digest(`token${i}`));
  await measure('read: findUserByTokenHash (digest precomputed)', rounds, (i) =>
    store.read((repository) => repository.findUserByTokenHash(hashes[i % users] as string)),
  );
  await measure('read: getComputeNodeAccess', rounds, (i) =>
    store.read((repository) => repository.getComputeNodeAccess(nodes[i % users] as string)),
  );
  let issued = 0;
  await measure('write: revoke + insert a certificate', rounds, (i) =>
    store.write(async (repository) => {
      issued++;
      await repository.revokeCertificates({ kind: 'instance', subject: `SOFTINST-${i % 100}`, now: i });
      await repository.insertCertificate({
        serial: digest(`instance:${issued}`).slice(0, 32),
        kind: 'instance',
        subject: `SOFTINST-${i % 100}`,
        notAfter: 9e9,
        revokedAt: null,
        createdAt: i,
      });
    }),
  );
  await measure('write: registerComputeNode', Math.min(rounds, 2000), (i) =>
    store.write((repository) =>
      repository.registerComputeNode({ owner: `user${i % users}`, title: 't', now: i }),
    ),
  );
  await measure(`read: listComputeNodeAccess (${users}+ nodes)`, 20, () =>
    store.read((repository) => repository.listComputeNodeAccess()),
  );
} finally {
  await store.close();
  await rm(directory, { recursive: true, force: true });
}
