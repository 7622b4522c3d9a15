import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { resolveProfile } from '../../engine.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { closedPort, profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { pgConfString, postgresStartScript } from './postgres.ts';

const PG_BIN = '/usr/lib/postgresql/15/bin';
const ROOT = process.getuid?.() === 0;

/**
 * `bin` for the recipe: Debian's binaries, run as the `postgres` user when the test runs as root
 * (initdb refuses root), from `/` (the tools complain about a working directory they cannot read).
 */
async function postgresBin(dir: string): Promise<string> {
  const bin = join(dir, 'pgbin');
  await mkdir(bin);
  for (const tool of ['initdb', 'postgres', 'pg_ctl', 'psql']) {
    const run = ROOT ? `runuser -u postgres -- ${PG_BIN}/${tool}` : `${PG_BIN}/${tool}`;
    await writeFile(join(bin, tool), `#!/bin/sh\ncd / && exec ${run} "$@"\n`, { mode: 0o755 });
  }
  return bin;
}

const profile = (dir: string, bin: string, port: number, password: string): string => `[buildout]
parts = postgres
[postgres]
recipe = slapos.cookbook:postgres
bin = ${bin}
services = \${buildout:directory}/etc/service
dbname = my "db"
superuser = admin
password = ${password}
port = ${port}
ipv4 = 127.0.0.1
ipv6 = ::1
ipv6-netmask-bits = 0
pgdata-directory = ${dir}/srv/pgdata
[check]
url = \${postgres:url}
`;

async function psql(bin: string, port: number, password: string, sql: string) {
  return execFile(
    join(bin, 'psql'),
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'admin', '-d', 'my "db"', '-tAc', sql],
    { env: { PATH: process.env.PATH, PGPASSWORD: password, LANG: 'C.UTF-8' } },
  );
}

async function waitForServer(bin: string, port: number, password: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const run = await psql(bin, port, password, 'SELECT 1');
    if (run.exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('the server did not start');
}

test('postgres: initdb, configuration, database and password; the server runs from the script', async () => {
  const dir = await tempDir();
  try {
    await chmod(dir.path, 0o755);
    await mkdir(join(dir.path, 'srv'));
    if (ROOT) {
      const pg = await execFile('id', ['-u', 'postgres']);
      await chown(join(dir.path, 'srv'), Number(pg.stdout.trim()), 0);
    }
    const bin = await postgresBin(dir.path);
    const port = await closedPort();
    const { run } = profileRunner(dir.path, { env: { PATH: process.env.PATH, LANG: 'C.UTF-8' } });
    const pgdata = join(dir.path, 'srv/pgdata');
    await run(profile(dir.path, bin, port, 'secret'));

    const conf = await readFile(join(pgdata, 'postgresql.conf'), 'utf8');
    assert.match(conf, /^listen_addresses = '127\.0\.0\.1,::1'\nport = \d+\nlogging_collector = on\n/);
    assert.match(conf, /max_connections = 100\n/);
    assert.ok(conf.includes(`unix_socket_directories = '${pgdata}'\nunix_socket_permissions = 0700\n`));
    const hba = await readFile(join(pgdata, 'pg_hba.conf'), 'utf8');
    assert.ok(hba.endsWith('host    all             all             ::1/0                   md5'));
    assert.ok(hba.includes('host    all             all             127.0.0.1/32                   md5\n'));
    const script = join(dir.path, 'etc/service/postgres-start');
    assert.equal(await readFile(script, 'utf8'), `#!/bin/sh\nexec ${bin}/postgres \\\n    -D ${pgdata}\n`);
    assert.equal((await stat(script)).mode & 0o777, 0o700);

    const server = spawn(script, [], { stdio: 'ignore' });
    try {
      await waitForServer(bin, port, 'secret');
      const db = await psql(bin, port, 'secret', 'SELECT current_database()');
      assert.equal(db.stdout.trim(), 'my "db"');
      assert.notEqual((await psql(bin, port, 'wrong', 'SELECT 1')).exitCode, 0);

      // A new password while the server runs goes through psql on the socket.
      await run(profile(dir.path, bin, port, 'n3w'));
      assert.equal((await psql(bin, port, 'n3w', 'SELECT 1')).exitCode, 0);
      assert.notEqual((await psql(bin, port, 'secret', 'SELECT 1')).exitCode, 0);
    } finally {
      await execFile(join(bin, 'pg_ctl'), ['stop', '-D', pgdata, '-m', 'fast']);
      server.kill();
    }

    // Stopped: the password is set in single-user mode, the cluster is kept.
    await run(profile(dir.path, bin, port, 'third'));
    const again = spawn(script, [], { stdio: 'ignore' });
    try {
      await waitForServer(bin, port, 'third');
    } finally {
      await execFile(join(bin, 'pg_ctl'), ['stop', '-D', pgdata, '-m', 'fast']);
      again.kill();
    }
  } finally {
    await dir.remove();
  }
});

test('postgres: url in init, bad values refused, a failed initdb leaves no cluster', async () => {
  const dir = await tempDir();
  try {
    const bin = join(dir.path, 'fakebin');
    await mkdir(bin);
    await writeFile(join(bin, 'initdb'), '#!/bin/sh\nmkdir -p "$2"; echo broken >&2; exit 1\n', {
      mode: 0o755,
    });
    const { run } = profileRunner(dir.path);
    const base = (parts = 'postgres'): string => `[buildout]
parts = ${parts}
[postgres]
recipe = slapos.cookbook:postgres
bin = ${bin}
services = \${buildout:directory}/etc/service
dbname = db
superuser = u
password = p@ss
port = 5432
ipv4 =
pgdata-directory = \${buildout:directory}/pgdata
`;
    await rejectsWithSlapError(
      run(`${base()}ipv6 = 2001:db8::1\n`),
      'SLAP_ERR_RECIPE_FAILED',
      /Could not create cluster directory/,
    );
    assert.equal(existsSync(join(dir.path, 'pgdata')), false);
    await writeFile(join(dir.path, 'buildout.cfg'), `${base()}ipv6 = 2001:db8::1\n`);
    const resolved = await resolveProfile({ configFile: join(dir.path, 'buildout.cfg') });
    const section = resolved.sections.postgres as Record<string, string>;
    assert.equal(section.url, 'postgresql://u:p@ss@[2001:db8::1]:5432/db');
    await rejectsWithSlapError(
      run(`${base()}ipv6 = 1.2.3.4; rm\n`),
      'SLAP_ERR_PROFILE',
      /not an ipv6 address/,
    );
    await rejectsWithSlapError(run(`${base()}ipv6 =\nport = 1 2\n`), 'SLAP_ERR_PROFILE', /not a number/);
    await rejectsWithSlapError(
      run(`${base()}ipv6 =\nmax-connections = 100\n  listen_addresses='*'\n`),
      'SLAP_ERR_PROFILE',
      /not a number/,
    );
  } finally {
    await dir.remove();
  }
});

/** Reads back a postgresql.conf string value by the server's rules. */
function decodeConfString(text: string): string {
  assert.ok(text.startsWith("'") && text.endsWith("'"));
  const body = text.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === "'") {
      assert.equal(body[i + 1], "'", 'a lone quote ends the value');
      out += "'";
      i++;
    } else if (c === '\\') {
      const octal = /^[0-7]{3}/.exec(body.slice(i + 1));
      if (octal) {
        out += String.fromCharCode(parseInt(octal[0], 8));
        i += 3;
      } else {
        out += body[i + 1];
        i++;
      }
    } else out += c;
  }
  return out;
}

test('postgres: hostile paths keep the configuration line and the script structure', async () => {
  const random = seededRandom(7);
  const dir = await tempDir();
  try {
    const bin = join(dir.path, 'b i n');
    await mkdir(bin);
    await writeFile(join(bin, 'postgres'), '#!/bin/sh\nprintf "%s\\0" "$@"\n', { mode: 0o755 });
    for (let i = 0; i < 100; i++) {
      const value = hostileString(random)
        .replaceAll('\0', '')
        .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
      const quoted = pgConfString(value);
      assert.doesNotMatch(quoted, /[\n\r]/);
      assert.equal(decodeConfString(quoted), value);
      if (value.length > 2000) continue;
      const script = join(dir.path, 'start');
      await writeFile(script, postgresStartScript(bin, value), { mode: 0o700 });
      const ran = await execFile(script, []);
      assert.equal(ran.stdout, `-D\0${value}\0`);
    }
    assert.throws(() => pgConfString('a\0b'), RangeError);
  } finally {
    await dir.remove();
  }
});
