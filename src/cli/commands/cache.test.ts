/** `slapos cache start|token|status`: the cache server as a process, and its tokens from the CLI. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runSlapos } from '../../testing/cli.ts';
import { startCacheProcess, stopCacheProcess, type CacheProcess } from '../../testing/cache-process.ts';

let dir: string;
let cacheDir: string;
let server: CacheProcess;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slapos-cache-cli-'));
  cacheDir = join(dir, 'cache');
  server = await startCacheProcess(['--dir', cacheDir], dir);
});
after(async () => {
  await stopCacheProcess(server);
  await rm(dir, { recursive: true, force: true });
});

async function upload(token: string, body: string): Promise<number> {
  const response = await fetch(server.info.shacache_url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

test('cache start --json says where it listens and where the first upload token is', async () => {
  assert.match(server.info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(server.info.shacache_url, `${server.info.url}/shacache`);
  assert.equal(server.info.shadir_url, `${server.info.url}/shadir`);
  assert.equal(server.info.token_file, join(cacheDir, 'upload.token'));
  assert.equal((await stat(server.info.token_file)).mode & 0o777, 0o600);
  const token = await readFile(server.info.token_file, 'utf8');
  assert.equal(await upload(token, 'first'), 201);
  // The log never holds the token.
  assert.equal(server.stderr().includes(token), false);
});

test('cache token create/list/revoke while the server runs; the server follows at once', async () => {
  const created = await runSlapos([
    'cache',
    'token',
    'create',
    '--dir',
    cacheDir,
    '--label',
    'builder',
    '--json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const { label, token } = JSON.parse(created.stdout) as { label: string; token: string };
  assert.equal(label, 'builder');
  assert.equal(await upload(token, 'by builder'), 201);

  const output = join(dir, 'second.token');
  const written = await runSlapos([
    'cache',
    'token',
    'create',
    '--dir',
    cacheDir,
    '--label',
    'second',
    '--output',
    output,
  ]);
  assert.equal(written.code, 0, written.stderr);
  assert.equal((await stat(output)).mode & 0o777, 0o600);
  assert.equal(written.stdout.includes(await readFile(output, 'utf8')), false);

  const again = await runSlapos(['cache', 'token', 'create', '--dir', cacheDir, '--label', 'builder']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists already/);

  const list = await runSlapos(['cache', 'token', 'list', '--dir', cacheDir, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const labels = (JSON.parse(list.stdout) as { label: string }[]).map((item) => item.label).sort();
  assert.deepEqual(labels, ['builder', 'initial', 'second']);
  assert.equal(list.stdout.includes(token), false);

  const revoked = await runSlapos(['cache', 'token', 'revoke', 'builder', '--dir', cacheDir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(await upload(token, 'after revocation'), 401);
  const unknown = await runSlapos(['cache', 'token', 'revoke', 'builder', '--dir', cacheDir]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no upload token labelled "builder"/);

  const badLabel = await runSlapos(['cache', 'token', 'create', '--dir', cacheDir, '--label', 'a b/../c']);
  assert.equal(badLabel.code, 5);
  assert.match(badLabel.stderr, /label/);
});

test('cache status --json counts blobs and entries and names the serving process', async () => {
  const token = await readFile(server.info.token_file, 'utf8');
  const sha512 = createHash('sha512').update('status').digest('hex');
  assert.equal(await upload(token, 'status'), 201);
  const put = await fetch(`${server.info.shadir_url}/status-key`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify([JSON.stringify({ sha512 }), '']),
  });
  assert.equal(put.status, 201);
  const run = await runSlapos(['cache', 'status', '--dir', cacheDir, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const status = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(status.running, true);
  assert.equal(status.pid, server.child.pid);
  assert.ok((status.blobs as number) >= 2);
  assert.equal(status.keys, 1);
  assert.equal(status.entries, 1);
});

test('bad usage is refused with a message and exit code 5; an unknown directory is said so', async () => {
  for (const args of [
    ['cache', 'start', '--dir', join(dir, 'x'), '--port', 'http'],
    ['cache', 'start', '--dir', join(dir, 'x'), '--tls-cert', join(dir, 'cert.pem')],
    ['cache', 'start', '--dir', join(dir, 'x'), '--client-ca', join(dir, 'ca.pem')],
    ['cache', 'start', '--dir', join(dir, 'x'), '--max-upload-size', 'lots'],
  ]) {
    const run = await runSlapos(args);
    assert.equal(run.code, 5, `${args.join(' ')}: ${run.stderr}`);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  }
  const missing = await runSlapos(['cache', 'status', '--dir', join(dir, 'nothing')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not a cache server directory/);
  const help = await runSlapos(['cache', 'start', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--client-ca/);
});

test('SIGTERM stops the server gracefully (exit 0, directory released)', async () => {
  const other = await startCacheProcess(['--dir', join(dir, 'other')], dir);
  assert.equal(await stopCacheProcess(other), 0);
  assert.match(other.stderr(), /cache server closed/);
  const status = await runSlapos(['cache', 'status', '--dir', join(dir, 'other'), '--json']);
  assert.equal((JSON.parse(status.stdout) as { running: boolean }).running, false);
});
