/** `slapos proxy start` as a real process: listens, serves the API, stops on SIGTERM and SIGINT. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Pool } from 'undici';
import { createAccessToken } from '../../lib/access-token.ts';
import { runSlapos } from '../../testing/cli.ts';
import { startProxyProcess, stopProxyProcess } from '../../testing/proxy-process.ts';
import { callApi, formatTestNode, postJson } from '../../testing/master.ts';

const startProxy = startProxyProcess;

const stopWith = stopProxyProcess;

test('proxy start: serves the JSON API on an ephemeral port and stops on SIGTERM with exit 0', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-proxy-start-'));
  try {
    const started = await startProxy(
      ['--port', '0', '--database', 'proxy.db', '--computer-id', 'computer'],
      directory,
    );
    assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // slapproxy's behaviour, said at start.
    assert.ok(
      started.lines.some(
        (line) => line.level === 40 && /any local user can drive this master/.test(String(line.msg)),
      ),
      JSON.stringify(started.lines),
    );
    await formatTestNode(started.url, { partitions: 1 });
    const answer = await callApi(started.url, '/slapos.post.v0.software_instance', {
      title: 'A',
      software_release_uri: 'http://sr//',
      software_type: 'default',
    });
    assert.equal(answer.status, 200);
    assert.equal(await stopWith(started, 'SIGTERM'), 0);
    assert.ok(started.lines.some((line) => line.msg === 'master closed'));
    // The data is on disk: a new process finds the instance.
    const again = await startProxy(['--port', '0', '--database', join(directory, 'proxy.db')], directory);
    const list = await callApi(again.url, '/slapos.allDocs.v0.compute_node_instance_list', {
      computer_guid: 'computer',
    });
    assert.equal((list.body as { result_list: unknown[] }).result_list.length, 1);
    assert.equal(await stopWith(again, 'SIGINT'), 0);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('proxy start --cfg: [slapos] computer_id and [slapproxy] host, port, database_uri; flags override', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-proxy-cfg-'));
  try {
    const cfg = join(directory, 'slapos.cfg');
    await writeFile(
      cfg,
      `[slapos]\ncomputer_id = COMP-CFG\n[slapproxy]\nhost = 127.0.0.1\nport = 1\ndatabase_uri = sqlite://${join(directory, 'cfg.db')}\n`,
    );
    const started = await startProxy(['--cfg', cfg, '--port', '0'], directory);
    await formatTestNode(started.url, { computerGuid: 'COMP-CFG', partitions: 1 });
    const answer = await callApi(started.url, '/slapos.post.v0.software_instance', {
      title: 'A',
      software_release_uri: 'http://sr//',
      software_type: 'default',
    });
    assert.equal((answer.body as { computer_guid: string }).computer_guid, 'COMP-CFG');
    const listening = started.lines.find((line) => line.msg === 'master listening');
    assert.equal(listening?.database, join(directory, 'cfg.db'));
    assert.equal(await stopWith(started, 'SIGTERM'), 0);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('proxy start refuses a non-loopback address without --insecure-listen', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-proxy-refuse-'));
  try {
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const run = await runSlapos(['proxy', 'start', '--host', host, '--database', join(directory, 'p.db')], {
        env: { HOME: directory },
      });
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /refusing to listen on .*proxy mode has no authentication/);
      assert.match(run.stderr, /--insecure-listen/);
    }
    const badPort = await runSlapos(['proxy', 'start', '--port', 'eighty'], { env: { HOME: directory } });
    assert.equal(badPort.code, 5);
    assert.match(badPort.stderr, /invalid port/);
    // A port another program holds: the hint says where the port came from and how to change it.
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    try {
      const port = (squatter.address() as AddressInfo).port;
      const cfg = join(directory, 'taken.cfg');
      await writeFile(cfg, `[slapproxy]\nport = ${port}\n`);
      const taken = await runSlapos(['proxy', 'start', '--cfg', cfg, '--database', join(directory, 't.db')], {
        env: { HOME: directory },
      });
      assert.notEqual(taken.code, 0);
      assert.match(taken.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
      assert.match(
        taken.stderr,
        new RegExp(`hint: the port is ${cfg} \\[slapproxy\\] port \\(${port}\\): choose another with --port`),
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    const missingCfg = await runSlapos(['proxy', 'start', '--cfg', join(directory, 'none.cfg')], {
      env: { HOME: directory },
    });
    assert.equal(missingCfg.code, 5);
    assert.match(missingCfg.stderr, /cannot read the configuration file/);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('proxy start --token-file: every call needs Authorization: Bearer <token of the file>', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-proxy-token-'));
  try {
    const token = createAccessToken();
    const tokenFile = join(directory, 'master.token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const started = await startProxy(
      ['--port', '0', '--database', 'proxy.db', '--computer-id', 'computer', '--token-file', 'master.token'],
      directory,
    );
    assert.ok(!started.lines.some((line) => /any local user/.test(String(line.msg))));
    const refused = await postJson(started.url, '/slapos.get.v0.hateoas_url', {});
    assert.equal(refused.status, 401);
    assert.equal((refused.body as { type: string }).type, 'Unauthorized');
    const allowed = await postJson(
      started.url,
      '/slapos.get.v0.hateoas_url',
      {},
      { headers: { authorization: `Bearer ${token}` } },
    );
    assert.equal(allowed.status, 200);
    assert.equal(await stopWith(started, 'SIGTERM'), 0);
    assert.ok(!JSON.stringify(started.lines).includes(token), 'the token was logged');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('proxy start --token-file refuses a missing, shared or malformed file (without showing it)', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-proxy-token-bad-'));
  try {
    const run = (file: string): ReturnType<typeof runSlapos> =>
      runSlapos(
        ['proxy', 'start', '--port', '0', '--database', join(directory, 'p.db'), '--token-file', file],
        {
          env: { HOME: directory },
          cwd: directory,
        },
      );
    const missing = await run('none.token');
    assert.equal(missing.code, 5, missing.stderr);
    assert.match(missing.stderr, /cannot read the token file/);
    const shared = join(directory, 'shared.token');
    await writeFile(shared, createAccessToken(), { mode: 0o644 });
    await chmod(shared, 0o644);
    const sharedRun = await run(shared);
    assert.equal(sharedRun.code, 5, sharedRun.stderr);
    assert.match(sharedRun.stderr, /other users/);
    assert.match(sharedRun.stderr, /chmod 600/);
    for (const content of ['', 'short', 'two words 0123456789abcdef', `${createAccessToken()}\n\n`]) {
      const bad = join(directory, 'bad.token');
      await rm(bad, { force: true });
      await writeFile(bad, content, { mode: 0o600 });
      const badRun = await run(bad);
      assert.equal(badRun.code, 5, badRun.stderr);
      assert.match(badRun.stderr, /does not hold a valid token/);
      if (content.trim() !== '') assert.ok(!badRun.stderr.includes(content.trim()), badRun.stderr);
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('proxy start --max-connections: a connection past the cap gets a 503; a bad number is refused', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-proxy-max-connections-'));
  try {
    for (const value of ['0', '-1', '1.5', 'many', '99999999999999999999']) {
      const run = await runSlapos(
        ['proxy', 'start', '--port', '0', '--database', join(directory, 'p.db'), '--max-connections', value],
        { env: { HOME: directory }, cwd: directory },
      );
      assert.notEqual(run.code, 0, run.stderr);
      assert.match(run.stderr, /--max-connections/);
      assert.match(run.stderr, /expected a positive integer/);
    }
    const started = await startProxy(
      ['--port', '0', '--database', 'proxy.db', '--computer-id', 'computer', '--max-connections', '1'],
      directory,
    );
    try {
      // A watching node holds the one connection (opened by a first call, kept alive for its long poll).
      const watching = new Pool(started.url, { connections: 1 });
      const call = (pool: Pool, path: string, body: unknown) =>
        pool.request({
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      await (await call(watching, '/slapos.get.v0.hateoas_url', {})).body.dump();
      const watch = call(watching, '/slapos.watch.ext.compute_node_revision', {
        computer_guid: 'computer',
        after_revision: 0,
        timeout_ms: 2000,
      });
      const other = new Pool(started.url, { connections: 1 });
      try {
        const refused = await call(other, '/slapos.get.v0.hateoas_url', {});
        assert.equal(refused.statusCode, 503);
        assert.equal(((await refused.body.json()) as { status?: number }).status, 503);
        assert.equal((await watch).statusCode, 200);
      } finally {
        await other.destroy();
        await watching.destroy();
      }
    } finally {
      await stopWith(started, 'SIGTERM');
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
