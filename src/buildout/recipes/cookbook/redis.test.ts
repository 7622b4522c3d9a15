import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { closedPort, profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { redisConf, redisQuote } from './redis.ts';

const profile = (srv: string, port: number, extra = ''): string => `[buildout]
parts = redis
[redis]
recipe = slapos.cookbook:redis.server
config-file = \${buildout:directory}/etc/redis.conf
pid-file = ${srv}/redis.pid
port = ${port}
ipv6 = 127.0.0.1
server-dir = ${srv}
log-file = ${srv}/redis.log
wrapper = \${buildout:directory}/etc/service/redis
server-bin = /usr/bin/redis-server
promise-wrapper = \${buildout:directory}/bin/redis-promise
cli-bin = /usr/bin/redis-cli
${extra}`;

test('redis.server: the configuration, wrapper and promise run a real Redis', async () => {
  const dir = await tempDir();
  try {
    // A server directory whose name needs quoting in redis.conf and in the shell.
    const srv = join(dir.path, `my "redis" dir`);
    await mkdir(srv);
    const port = await closedPort();
    const { run } = profileRunner(dir.path);
    await run(profile(srv, port, 'use-passwd = true\npasswd = s3cret pass\n'));
    const config = join(dir.path, 'etc/redis.conf');
    const text = await readFile(config, 'utf8');
    assert.ok(
      text.startsWith(`daemonize no\npidfile "${srv.replaceAll('"', '\\"')}/redis.pid"\nport ${port}\n`),
    );
    assert.ok(text.includes('\nbind 127.0.0.1\n\ntimeout 0\n'));
    assert.ok(text.includes('\nmasterauth "s3cret pass"\n'));
    assert.equal((await stat(config)).mode & 0o777, 0o600);
    const wrapper = join(dir.path, 'etc/service/redis');
    assert.equal(
      await readFile(wrapper, 'utf8'),
      `#!/bin/sh -e\nexec /usr/bin/redis-server ${config} \\\n\t"$@"\n`,
    );
    assert.equal((await stat(wrapper)).mode & 0o777, 0o700);
    const promise = join(dir.path, 'bin/redis-promise');
    assert.equal(
      await readFile(promise, 'utf8'),
      `#!/bin/sh -e\nexec /usr/bin/redis-cli -h 127.0.0.1 -p ${port} \\\n\tpublish Promise-Service 'SlapOS Promise' \\\n\t"$@"\n`,
    );

    assert.notEqual((await execFile(promise, [])).exitCode, 0, 'the promise fails while Redis is down');
    const server = spawn(wrapper, [], { stdio: 'ignore' });
    try {
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        ok = (await execFile(promise, [])).exitCode === 0;
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ok, 'the promise succeeds once Redis runs');
      const get = await execFile('/usr/bin/redis-cli', ['-p', String(port), 'CONFIG', 'GET', 'dir']);
      assert.equal(get.stdout, `dir\n${srv}\n`);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }

    // Without use-passwd: the commented line; a unix socket adds its lines and the -s argument.
    await run(profile(srv, port, `unixsocket = ${srv}/redis.sock\n`));
    const second = await readFile(config, 'utf8');
    assert.ok(second.includes('\n# masterauth <master-password>\n'));
    assert.ok(
      second.includes(`\nunixsocket "${srv.replaceAll('"', '\\"')}/redis.sock"\nunixsocketperm 700\n`),
    );
    assert.match(await readFile(promise, 'utf8'), /\t-s '[^\n]*redis.sock' \\\n/);

    await rejectsWithSlapError(
      run(profile(srv, port).replace(`port = ${port}`, 'port = 6379 x')),
      'SLAP_ERR_PROFILE',
      /not a port/,
    );
  } finally {
    await dir.remove();
  }
});

/** Splits a redis.conf line as Redis does (sdssplitargs). */
function splitRedisArgs(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /[ \t\n\r\v\f]/.test(line[i] as string)) i++;
    if (i >= line.length) break;
    let word = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        assert.ok(i < line.length, 'unterminated quotes');
        const c = line[i] as string;
        if (c === '\\' && line[i + 1] === 'x' && /^[0-9a-f]{2}$/i.test(line.slice(i + 2, i + 4))) {
          word += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
        } else if (c === '\\' && i + 1 < line.length) {
          const n = line[i + 1] as string;
          word += { n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' }[n] ?? n;
          i += 2;
        } else if (c === '"') {
          i++;
          assert.ok(
            i >= line.length || /[ \t\n\r\v\f]/.test(line[i] as string),
            'closing quote must be followed by a space',
          );
          break;
        } else {
          word += c;
          i++;
        }
      }
    } else {
      while (i < line.length && !/[ \t\n\r\v\f]/.test(line[i] as string)) word += line[i++];
    }
    out.push(word);
  }
  return out;
}

test('redis.server: hostile values stay one argument of their directive', () => {
  const random = seededRandom(11);
  for (let i = 0; i < 500; i++) {
    const value = hostileString(random);
    assert.deepEqual(splitRedisArgs(`logfile ${redisQuote(value)}`), ['logfile', value]);
    const conf = redisConf({
      pidFile: value,
      port: '1',
      ipv6: value,
      serverDir: value,
      logFile: value,
      unixsocket: value,
      masterauth: value,
    });
    // Redis reads the file line by line (split on \n): the directive count never changes.
    assert.equal(
      conf.split('\n').length,
      redisConf({
        pidFile: 'a',
        port: '1',
        ipv6: 'a',
        serverDir: 'a',
        logFile: 'a',
        unixsocket: 'a',
        masterauth: 'a',
      }).split('\n').length,
    );
  }
});
