/** `slapos node register` and `slapos token create`: what they refuse before reaching a master. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../core/errors.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { parseTokenLifetime } from './token-create.ts';

const TOKEN = 'a'.repeat(43);
// Nothing listens there: a command that got as far as calling would fail as unreachable instead.
const NOWHERE = 'https://127.0.0.1:9';
const env = isolatedClientEnv();
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slapos-register-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function register(name: string, extra: string[] = []): ReturnType<typeof runSlapos> {
  return runSlapos(
    [
      'node',
      'register',
      name,
      '--master-url',
      NOWHERE,
      '--token',
      TOKEN,
      '--config-dir',
      join(dir, 'cfg'),
      ...extra,
    ],
    { env, cwd: dir },
  );
}

test('--help lists the options of the original and ours', async () => {
  const run = await runSlapos(['node', 'register', '--help'], { env });
  assert.equal(run.code, 0);
  for (const option of [
    '--master-url',
    '--token',
    '--ca-file',
    '--config-dir',
    '--sandbox',
    '--partition-number',
    '--interface-name',
    '--ipv4-local-network',
    '--software-root',
    '--instance-root',
    '--force',
    '--json',
  ])
    assert.ok(run.stdout.includes(option), option);
  const token = await runSlapos(['token', 'create', '--help'], { env });
  assert.equal(token.code, 0);
  assert.match(token.stdout, /--expires/);
});

test('a name that is not a title, a plain-http URL, a malformed token: refused at once, nothing written, no token printed', async () => {
  for (const name of ['line\nbreak', '', 'x'.repeat(201), 'nul\0']) {
    const run = await register(name);
    assert.equal(run.code, EXIT.usage, run.stderr);
    assert.match(run.stderr, /node name/);
  }
  const http = await runSlapos(
    [
      'node',
      'register',
      'n',
      '--master-url',
      'http://127.0.0.1:9',
      '--token',
      TOKEN,
      '--config-dir',
      join(dir, 'cfg'),
    ],
    { env },
  );
  assert.equal(http.code, EXIT.usage);
  assert.match(http.stderr, /https only/);
  const badToken = 'not a token\nsecret-part';
  const malformed = await runSlapos(
    ['node', 'register', 'n', '--master-url', NOWHERE, '--token', badToken, '--config-dir', join(dir, 'cfg')],
    { env },
  );
  assert.equal(malformed.code, EXIT.usage);
  assert.ok(!malformed.stderr.includes('secret-part'));
  await assert.rejects(readdir(join(dir, 'cfg')), { code: 'ENOENT' });
});

test('an existing configuration is refused without --force; an unreachable master is said, the token not printed', async () => {
  const existing = join(dir, 'existing');
  await rm(existing, { recursive: true, force: true });
  await mkdir(existing, { recursive: true });
  await writeFile(join(existing, 'slapos.cfg'), '[slapos]\n');
  const refused = await runSlapos(
    ['node', 'register', 'n', '--master-url', NOWHERE, '--token', TOKEN, '--config-dir', existing],
    { env },
  );
  assert.equal(refused.code, EXIT.usage, refused.stderr);
  assert.match(refused.stderr, /already holds a node configuration/);
  assert.match(refused.stderr, /--force/);
  const unreachable = await runSlapos(
    ['node', 'register', 'n', '--master-url', NOWHERE, '--token', TOKEN, '--config-dir', existing, '--force'],
    { env },
  );
  assert.equal(unreachable.code, EXIT.unavailable, unreachable.stderr);
  assert.ok(!(unreachable.stdout + unreachable.stderr).includes(TOKEN));
});

test('token lifetimes: 30m, 1h, 2d; below a minute, over 30 days or malformed refused', async () => {
  assert.equal(parseTokenLifetime('30m'), 1800);
  assert.equal(parseTokenLifetime('1h'), 3600);
  assert.equal(parseTokenLifetime('2d'), 172800);
  assert.equal(parseTokenLifetime('60s'), 60);
  for (const bad of ['59s', '31d', '1 h', 'h', '1', '-1h', '1.5h', '1h\n', ''])
    assert.throws(() => parseTokenLifetime(bad), /expected|token lives/, bad);
  const run = await runSlapos(['token', 'create', '--expires', '1y', '--master-url', NOWHERE], { env });
  assert.equal(run.code, EXIT.usage);
  assert.match(run.stderr, /30m, 1h, 2d/);
});
