import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runPromises } from '../../../node/promise/run-promises.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { closedPort, profileRunner, tempDir } from '../../../testing/buildout.ts';

const MONITOR_PROMISE_BASE = `[directory]
recipe = slapos.cookbook:mkdirectory
plugins = \${buildout:directory}/etc/plugin
promises = \${buildout:directory}/etc/promise

[monitor-promise-base]
recipe = slapos.cookbook:promise.plugin
eggs =
  slapos.toolbox
module = slapos.promise.plugin.\${:promise}
output = \${directory:plugins}/\${:name}
`;

async function definition(dir: string, title: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(dir, 'etc/promise.d', `${title}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
}

test('promise.plugin through the monitor stack macro becomes declarative promises the node runs', async () => {
  const dir = await tempDir();
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const closed = await closedPort();
  try {
    const { run } = profileRunner(dir.path);
    const profile = `[buildout]
parts = listening-promise down-promise file-promise command-promise old-style-promise
${MONITOR_PROMISE_BASE}
[listening-promise]
<= monitor-promise-base
promise = check_socket_listening
name = listening.py
config-host = 127.0.0.1
config-port = ${port}

[down-promise]
<= monitor-promise-base
promise = check_socket_listening
name = down.py
config-host = 127.0.0.1
config-port = ${closed}
config-frequency = 5

[file-promise]
<= monitor-promise-base
promise = check_file_state
name = log-empty.py
config-filename = \${buildout:directory}/error.log
config-state = empty

[command-promise]
<= monitor-promise-base
promise = check_command_execute
name = command.py
config-command = test -d \${directory:plugins}

[old-style-promise]
<= monitor-promise-base
module = check_url_available
name = url.py
config-url = http://127.0.0.1:${port}/
config-http_code = 204
config-failure-amount = 2
`;
    const result = await run(profile);
    assert.deepEqual(result.installed, [
      'directory',
      'listening-promise',
      'down-promise',
      'file-promise',
      'command-promise',
      'old-style-promise',
    ]);
    assert.deepEqual(await definition(dir.path, 'listening'), {
      kind: 'socket',
      host: '127.0.0.1',
      port,
      description: '[listening-promise] slapos.cookbook:promise.plugin check_socket_listening',
    });
    assert.equal((await definition(dir.path, 'down')).periodicity, 300);
    assert.deepEqual(await definition(dir.path, 'log-empty'), {
      kind: 'file',
      path: join(dir.path, 'error.log'),
      'max-size': 0,
      description: '[file-promise] slapos.cookbook:promise.plugin check_file_state',
    });
    assert.equal((await definition(dir.path, 'command')).command, `test -d ${join(dir.path, 'etc/plugin')}`);
    const url = await definition(dir.path, 'url');
    assert.equal(url.status, 204);
    assert.equal(url['failure-amount'], 2);
    assert.equal(existsSync(join(dir.path, 'etc/plugin/listening.py')), false, 'no Python file is written');

    // The node's promise runner reads them: the listening socket passes, the closed port fails,
    // the missing log file fails the "empty" check.
    const report = await runPromises(dir.path, { mode: 'test', force: true, timeout: 20 });
    const failed = report.failures.map((f) => f.title).sort();
    assert.deepEqual(failed, ['down', 'log-empty', 'url']);

    // A second run rewrites nothing and spawns nothing.
    const again = await run(profile);
    assert.deepEqual(again.installed, []);
  } finally {
    server.close();
    await dir.remove();
  }
});

test('check_port_listening writes a socket promise titled after its path', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await mkdir(join(dir.path, 'etc/promise'), { recursive: true });
    await run(
      '[buildout]\nparts = p\n[p]\nrecipe = slapos.cookbook:check_port_listening\npath = ${buildout:directory}/etc/promise/web-port\nhostname = ::1\nport = 8080\n',
    );
    assert.deepEqual(await definition(dir.path, 'web-port'), {
      kind: 'socket',
      host: '::1',
      port: 8080,
      description: '[p] slapos.cookbook:check_port_listening',
    });
    await rejectsWithSlapError(
      run(
        '[buildout]\nparts = p\n[p]\nrecipe = slapos.cookbook:check_port_listening\npath = x\nport = http\n',
      ),
      'SLAP_ERR_PROFILE',
      /p:port: expected an integer from 1 to 65535/,
    );
  } finally {
    await dir.remove();
  }
});

test('promise.plugin: Python plugins this engine cannot translate are refused, naming the section', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const with_ = (body: string): string =>
      `[buildout]\nparts = p\n${MONITOR_PROMISE_BASE}\n[p]\n<= monitor-promise-base\nname = p.py\n${body}\n`;
    await rejectsWithSlapError(
      run(with_('promise = check_free_disk_space')),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /Initializing part p \(slapos\.cookbook:promise\.plugin\): p:module: promise plugin check_free_disk_space is Python code this engine does not run/,
    );
    await rejectsWithSlapError(
      run(
        '[buildout]\nparts = p\n[p]\nrecipe = slapos.cookbook:promise.plugin\noutput = p.py\nfile = ${buildout:directory}/my_promise.py\n',
      ),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /p:file: a promise given as a Python file cannot run in this engine/,
    );
    await rejectsWithSlapError(
      run(with_('promise = check_socket_listening\nconfig-host = ::1')),
      'SLAP_ERR_PROFILE',
      /give config-host with config-port, or config-pathname/,
    );
    await rejectsWithSlapError(
      run(with_('promise = check_url_available\nconfig-url = https://x/\nconfig-check-secure = 1')),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /p:config-check-secure: accepting 401 as success/,
    );
    await rejectsWithSlapError(
      run(with_('promise = check_file_state\nconfig-filename = x\nconfig-state = huge')),
      'SLAP_ERR_PROFILE',
      /config-state" must be absent, empty or not-empty/,
    );
  } finally {
    await dir.remove();
  }
});
