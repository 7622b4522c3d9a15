import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, fetch } from 'undici';
import {
  FIXTURE_PASSWORD,
  startBackupRepository,
  type BackupRepositoryFixture,
} from '../../testing/backup-repository.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { parseRepositoryPath } from './repository-server.ts';
import { ensureServerCertificate } from './server-certificate.ts';
import { newBackupId } from './restic.ts';

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
/** The repository COMP-1 may only read. */
const READ_ONLY = 'tree-3';

describe('repository server (restic REST over mutual TLS)', () => {
  let fixture: BackupRepositoryFixture;
  const agents: Agent[] = [];
  let part: string;

  before(async () => {
    fixture = await startBackupRepository({
      authorize: (access, repository) =>
        access.computeNodeId !== 'COMP-1'
          ? 'none'
          : repository === 'tree-1'
            ? 'append'
            : repository === READ_ONLY
              ? 'read'
              : 'none',
      maxUploadBytes: 1024 * 1024,
    });
    part = await mkdtemp(join(tmpdir(), 'slapos-backup-part-'));
  });
  after(async () => {
    for (const agent of agents) await agent.close();
    await fixture.close();
    await rm(part, { recursive: true, force: true });
  });

  /** An HTTPS agent trusting the server, with the client certificate of `pemFile` (or none). */
  const agent = async (pemFile?: string): Promise<Agent> => {
    const pem = pemFile === undefined ? undefined : await readFile(pemFile, 'utf8');
    const made = new Agent({
      connect: {
        ca: await readFile(fixture.caFile, 'utf8'),
        ...(pem === undefined ? {} : { cert: pem, key: pem }),
      },
    });
    agents.push(made);
    return made;
  };

  const errorBody = async (response: Awaited<ReturnType<typeof fetch>>): Promise<void> => {
    const body = (await response.json()) as { status: number; type: string; title: string };
    assert.equal(body.status, response.status);
    assert.equal(typeof body.type, 'string');
    assert.equal(typeof body.title, 'string');
  };

  test('init, backup, snapshots, restore over the server; forget on the served directory', async () => {
    const target = fixture.target('tree-1');
    await fixture.restic.init(target);
    await fixture.restic.init(target); // idempotent
    await mkdir(join(part, 'srv', 'kv'), { recursive: true });
    await mkdir(join(part, 'etc'), { recursive: true });
    const data = randomBytes(300_000);
    await writeFile(join(part, 'srv', 'kv', 'store.db'), data);
    await writeFile(join(part, 'etc', 'kv.conf'), 'port = 1\n');
    await writeFile(join(part, 'srv', 'kv', 'skip.tmp'), 'excluded');
    const firstId = newBackupId(new Date(Date.UTC(2026, 0, 1)));
    const first = await fixture.restic.backup(target, {
      cwd: part,
      paths: ['srv/kv', 'etc/kv.conf'],
      exclude: ['*.tmp'],
      backupId: firstId,
      tags: ['slapos-tree:tree-1'],
    });
    assert.equal(first.backupId, firstId);
    assert.match(first.snapshotId, /^[0-9a-f]{64}$/);
    assert.equal(first.filesNew, 2);
    assert.ok(first.bytesAdded > 0);
    assert.deepEqual(fixture.snapshotsSeen, ['tree-1']);

    await writeFile(join(part, 'etc', 'kv.conf'), 'port = 2\n');
    const secondId = newBackupId();
    const second = await fixture.restic.backup(target, {
      cwd: part,
      paths: ['srv/kv', 'etc/kv.conf'],
      backupId: secondId,
    });
    assert.equal(second.filesChanged, 1);

    const snapshots = await fixture.restic.snapshots(target);
    assert.deepEqual(
      snapshots.map((s) => [s.snapshotId, s.backupId]),
      [
        [first.snapshotId, firstId],
        [second.snapshotId, secondId],
      ],
    );
    assert.ok(snapshots[0]?.tags.includes('slapos-tree:tree-1'));

    // Files land at <into>/<partition-relative path>.
    const into = join(part, '..', `${part.split('/').at(-1)}-restore`);
    try {
      await fixture.restic.restore(target, first.snapshotId, into);
      assert.deepEqual(await readFile(join(into, 'srv', 'kv', 'store.db')), data);
      assert.equal(await readFile(join(into, 'etc', 'kv.conf'), 'utf8'), 'port = 1\n');
      assert.deepEqual((await readdir(join(into, 'srv', 'kv'))).sort(), ['store.db']);
      assert.deepEqual((await readdir(into)).sort(), ['etc', 'srv']);
    } finally {
      await rm(into, { recursive: true, force: true });
    }

    // Pushers cannot forget (append-only); the serving node does, on its directory.
    await assert.rejects(fixture.restic.forget(target, { last: 1, hourly: 0, daily: 0 }), {
      code: 'SLAP_ERR_BACKUP',
    });
    const local = { url: join(fixture.repositories, 'tree-1'), password: FIXTURE_PASSWORD };
    await fixture.restic.forget(local, { last: 1, hourly: 0, daily: 0 });
    assert.deepEqual(
      (await fixture.restic.snapshots(target)).map((s) => s.backupId),
      [secondId],
    );
    await fixture.restic.check(target, { readData: true });
  });

  test('a wrong password is SLAP_ERR_BACKUP_KEY and never appears in the error', async () => {
    const target = fixture.target('tree-1');
    await fixture.restic.init(target);
    const wrong = 'not-the-password-' + randomBytes(6).toString('hex');
    for (const action of [
      () => fixture.restic.snapshots({ ...target, password: wrong }),
      () => fixture.restic.init({ ...target, password: wrong }),
    ]) {
      await assert.rejects(action(), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SLAP_ERR_BACKUP_KEY');
        assert.ok(
          !JSON.stringify({ m: error.message, d: (error as { details?: unknown }).details }).includes(wrong),
        );
        return true;
      });
    }
  });

  test('refused: no certificate, another CA, not a compute node, an unauthorized repository', async () => {
    const url = `${fixture.server.url}/tree-1/config`;
    for (const pemFile of [undefined, fixture.strangerCertFile, fixture.instanceCertFile]) {
      const response = await fetch(url, { dispatcher: await agent(pemFile) });
      assert.equal(response.status, 401);
      await errorBody(response);
    }
    const other = await fetch(`${fixture.server.url}/tree-2/config`, {
      dispatcher: await agent(fixture.clientCertFile),
    });
    assert.equal(other.status, 403);
    await errorBody(other);
    // restic itself, with a certificate of another CA.
    await assert.rejects(
      fixture.restic.snapshots({ ...fixture.target('tree-1'), clientCertFile: fixture.strangerCertFile }),
      { code: 'SLAP_ERR_BACKUP' },
    );
    assert.ok((await fetch(url, { dispatcher: await agent(fixture.clientCertFile) })).ok);
  });

  test('append-only: DELETE only for locks; a wrong hash, a changed config, an oversized upload refused', async () => {
    const dispatcher = await agent(fixture.clientCertFile);
    const base = `${fixture.server.url}/tree-1`;
    await fetch(`${base}/?create=true`, { method: 'POST', dispatcher });
    const content = randomBytes(1000);
    const name = sha256(content);
    for (const type of ['data', 'keys', 'snapshots', 'index', 'locks']) {
      const stored = await fetch(`${base}/${type}/${name}`, { method: 'POST', body: content, dispatcher });
      assert.equal(stored.status, 200, type);
      await stored.arrayBuffer();
      const again = await fetch(`${base}/${type}/${name}`, { method: 'POST', body: content, dispatcher });
      assert.equal(again.status, 200, `${type} again (idempotent)`);
      await again.arrayBuffer();
      const removed = await fetch(`${base}/${type}/${name}`, { method: 'DELETE', dispatcher });
      assert.equal(removed.status, type === 'locks' ? 200 : 403, type);
      await removed.arrayBuffer();
      const head = await fetch(`${base}/${type}/${name}`, { method: 'HEAD', dispatcher });
      assert.equal(head.status, type === 'locks' ? 404 : 200, type);
      if (type !== 'locks') assert.equal(head.headers.get('content-length'), '1000');
    }
    await stat(join(fixture.repositories, 'tree-1', 'data', name.slice(0, 2), name));
    const ranged = await fetch(`${base}/data/${name}`, { headers: { range: 'bytes=10-19' }, dispatcher });
    assert.equal(ranged.status, 206);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), content.subarray(10, 20));
    const listV2 = await fetch(`${base}/data/`, {
      headers: { accept: 'application/vnd.x.restic.rest.v2' },
      dispatcher,
    });
    assert.equal(listV2.headers.get('content-type'), 'application/vnd.x.restic.rest.v2');
    assert.ok(
      ((await listV2.json()) as { name: string; size: number }[]).some(
        (f) => f.name === name && f.size === 1000,
      ),
    );
    const listV1 = await fetch(`${base}/snapshots/`, { dispatcher });
    assert.ok(((await listV1.json()) as string[]).includes(name));

    const wrong = await fetch(`${base}/data/${sha256('other')}`, {
      method: 'POST',
      body: content,
      dispatcher,
    });
    assert.equal(wrong.status, 400);
    await errorBody(wrong);
    assert.equal(
      (await fetch(`${base}/data/${sha256('other')}`, { method: 'HEAD', dispatcher })).status,
      404,
    );

    const config = await fetch(`${base}/config`, { dispatcher });
    assert.equal(config.status, 200);
    const original = Buffer.from(await config.arrayBuffer());
    const replaced = await fetch(`${base}/config`, { method: 'POST', body: 'other config', dispatcher });
    assert.equal(replaced.status, 403);
    await errorBody(replaced);
    const same = await fetch(`${base}/config`, { method: 'POST', body: original, dispatcher });
    assert.equal(same.status, 200);
    await same.arrayBuffer();
    const removedConfig = await fetch(`${base}/config`, { method: 'DELETE', dispatcher });
    assert.equal(removedConfig.status, 403);
    await removedConfig.arrayBuffer();
    const removedRepository = await fetch(`${base}/`, { method: 'DELETE', dispatcher });
    assert.equal(removedRepository.status, 403);
    await removedRepository.arrayBuffer();

    const big = randomBytes(1024 * 1024 + 1);
    const tooLarge = await fetch(`${base}/data/${sha256(big)}`, { method: 'POST', body: big, dispatcher });
    assert.equal(tooLarge.status, 413);
    await errorBody(tooLarge);
    assert.deepEqual(await readdir(join(fixture.repositories, '.incoming')), []);
  });

  test('hostile repository names and paths are 400 with an error body, and write nothing', async () => {
    const dispatcher = await agent(fixture.clientCertFile);
    const name = sha256('x');
    const random = seededRandom(12);
    const hostile = Array.from({ length: 40 }, () => hostileString(random))
      .filter((value) => value !== '' && value.length < 500)
      .map(percentEncode);
    const paths = [
      '/',
      '/tree-1/data/aa/' + name,
      '/tree-1/data/' + name.toUpperCase(),
      '/tree-1/data/' + name + '/',
      '/tree-1/other/' + name,
      '/tree-1//config',
      '/tree-01234567890123456789/config',
      '/tree-/config',
      '/TREE-1/config',
      '/tree-1%2f/config',
      '/.incoming/x',
      ...hostile.map((value) => `/tree-1/data/${value}`),
      ...hostile.map((value) => `/${value}/config`),
      ...hostile.map((value) => `/tree-1/${value}`),
    ];
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const response = await fetch(`${fixture.server.url}${path}`, {
          method,
          ...(method === 'POST' ? { body: 'x' } : {}),
          dispatcher,
        });
        assert.equal(response.status, 400, `${method} ${JSON.stringify(path)}`);
        await errorBody(response);
      }
    }
    assert.deepEqual((await readdir(fixture.repositories)).sort(), ['.incoming', 'tree-1']);
  });

  test('property: a path parses only when it is exactly the route grammar', () => {
    // fetch resolves dot segments before sending; the server sees them from other clients.
    for (const path of [
      '/tree-1/../tree-2/config',
      '/tree-1/data/../config',
      '/tree-1/data/%2e%2e',
      '/tree-1/./config',
    ])
      assert.throws(() => parseRepositoryPath(path), { code: 'SLAP_ERR_INVALID_INPUT' });
    const alphabet = [
      '/',
      'tree-',
      '1',
      '0',
      'config',
      'data',
      'locks',
      'a',
      'f',
      '.',
      '..',
      '%2f',
      '\u0000',
      '\n',
      '\u2028',
      '?',
      'x',
      name64(),
    ];
    const random = seededRandom(7);
    for (let run = 0; run < 5000; run++) {
      const length = 1 + Math.floor(random() * 8);
      let path = '';
      for (let i = 0; i < length; i++) path += alphabet[Math.floor(random() * alphabet.length)];
      let parsed;
      try {
        parsed = parseRepositoryPath(path).resource;
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'SLAP_ERR_INVALID_INPUT');
        continue;
      }
      const route = path.split('?')[0] ?? '';
      assert.match(
        route,
        /^\/tree-[0-9]{1,18}(\/|\/config|\/(data|keys|locks|snapshots|index)\/([0-9a-f]{64})?)?$/,
        route,
      );
      assert.ok(!route.includes('..'));
      assert.match(parsed.repository, /^tree-[0-9]{1,18}$/);
    }
  });

  test("'read': HEAD/GET and lock files only; every write refused 403 with the API error body", async () => {
    const dispatcher = await agent(fixture.clientCertFile);
    const base = `${fixture.server.url}/${READ_ONLY}`;
    const refused = await fetch(`${base}/?create=true`, { method: 'POST', dispatcher });
    assert.equal(refused.status, 403, 'a reader creates no repository');
    await errorBody(refused);
    // What the serving node holds (written as restic would, on its own directory).
    const repository = join(fixture.repositories, READ_ONLY);
    const stored = randomBytes(500);
    const name = sha256(stored);
    for (const type of ['keys', 'locks', 'snapshots', 'index']) {
      await mkdir(join(repository, type), { recursive: true });
      await writeFile(join(repository, type, name), stored);
    }
    await mkdir(join(repository, 'data', name.slice(0, 2)), { recursive: true });
    await writeFile(join(repository, 'data', name.slice(0, 2), name), stored);
    await writeFile(join(repository, 'config'), 'the config');

    const config = await fetch(`${base}/config`, { dispatcher });
    assert.equal(await config.text(), 'the config');
    assert.equal((await fetch(`${base}/config`, { method: 'HEAD', dispatcher })).status, 200);
    for (const type of ['data', 'keys', 'locks', 'snapshots', 'index']) {
      const listed = await fetch(`${base}/${type}/`, { dispatcher });
      assert.deepEqual(await listed.json(), [name], type);
      const read = await fetch(`${base}/${type}/${name}`, { dispatcher });
      assert.deepEqual(Buffer.from(await read.arrayBuffer()), stored, type);
      const head = await fetch(`${base}/${type}/${name}`, { method: 'HEAD', dispatcher });
      assert.equal(head.headers.get('content-length'), '500', type);
    }
    const content = randomBytes(1000);
    const fresh = sha256(content);
    const attempts: [string, string, Buffer | string | undefined][] = [
      ...['data', 'keys', 'snapshots', 'index'].map((type): [string, string, Buffer] => [
        'POST',
        `${base}/${type}/${fresh}`,
        content,
      ]),
      ['POST', `${base}/config`, 'the config'], // even the same content
      ['POST', `${base}/config`, 'another config'],
      ...['data', 'keys', 'snapshots', 'index'].map((type): [string, string, undefined] => [
        'DELETE',
        `${base}/${type}/${name}`,
        undefined,
      ]),
      ['DELETE', `${base}/config`, undefined],
      ['DELETE', `${base}/`, undefined],
      ['PUT', `${base}/data/${fresh}`, content],
      ['GET', `${base}/`, undefined],
    ];
    for (const [method, url, body] of attempts) {
      const response = await fetch(url, { method, dispatcher, ...(body === undefined ? {} : { body }) });
      assert.equal(response.status, 403, `${method} ${url}`);
      await errorBody(response);
    }
    for (const type of ['data', 'keys', 'snapshots', 'index'])
      assert.equal(
        (await fetch(`${base}/${type}/${fresh}`, { method: 'HEAD', dispatcher })).status,
        404,
        type,
      );
    assert.equal(await readFile(join(repository, 'config'), 'utf8'), 'the config');
    assert.equal((await fetch(`${base}/keys/${name}`, { method: 'HEAD', dispatcher })).status, 200);

    // Its own locks: taken and released.
    const lock = Buffer.from('{"time":"2026-12-07T00:00:00Z","exclusive":false}');
    const taken = await fetch(`${base}/locks/${sha256(lock)}`, { method: 'POST', body: lock, dispatcher });
    assert.equal(taken.status, 200);
    await taken.arrayBuffer();
    assert.equal((await fetch(`${base}/locks/${sha256(lock)}`, { method: 'HEAD', dispatcher })).status, 200);
    const released = await fetch(`${base}/locks/${sha256(lock)}`, { method: 'DELETE', dispatcher });
    assert.equal(released.status, 200);
    await released.arrayBuffer();
    assert.equal((await fetch(`${base}/locks/${sha256(lock)}`, { method: 'HEAD', dispatcher })).status, 404);

    const bigLock = randomBytes(64 * 1024 + 1);
    const tooLarge = await fetch(`${base}/locks/${sha256(bigLock)}`, {
      method: 'POST',
      body: bigLock,
      dispatcher,
    });
    assert.equal(tooLarge.status, 413, 'a lock is small');
    await errorBody(tooLarge);

    // 'none' reads nothing.
    await mkdir(join(fixture.repositories, 'tree-4'), { recursive: true });
    await writeFile(join(fixture.repositories, 'tree-4', 'config'), 'the config');
    for (const path of ['config', 'keys/', `locks/${sha256(lock)}`]) {
      const response = await fetch(`${fixture.server.url}/tree-4/${path}`, {
        method: path.startsWith('locks') ? 'POST' : 'GET',
        ...(path.startsWith('locks') ? { body: lock } : {}),
        dispatcher,
      });
      assert.equal(response.status, 403, path);
      await errorBody(response);
    }
    await rm(join(fixture.repositories, 'tree-4'), { recursive: true });
    await rm(repository, { recursive: true });
  });

  test('the server certificate is kept when it fits, replaced when names change; key 0600', async () => {
    const dir = join(fixture.dir, 'cert-test');
    const first = await ensureServerCertificate(dir, ['127.0.0.1', 'node-1.example']);
    assert.equal((await stat(first.keyFile)).mode & 0o777, 0o600);
    const again = await ensureServerCertificate(dir, ['node-1.example']);
    assert.equal(again.certificatePem, first.certificatePem);
    const moved = await ensureServerCertificate(dir, ['10.0.0.7']);
    assert.notEqual(moved.certificatePem, first.certificatePem);
    const { X509Certificate } = await import('node:crypto');
    assert.ok(new X509Certificate(moved.certificatePem).checkIP('10.0.0.7'));
  });
});

function name64(): string {
  return sha256(randomBytes(4));
}

/** Every byte of the UTF-8 of `value` percent-encoded (lone surrogates become U+FFFD). */
function percentEncode(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}
