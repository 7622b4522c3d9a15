/** What every client command shares: --help, the missing master URL, and the real `slapos` binary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { startMasterWithNode, type MasterWithNode } from '../../testing/master-with-node.ts';

const env = isolatedClientEnv();
/** Each client command: its words, then example arguments. */
const COMMANDS: [string[], string[]][] = [
  [['supply'], ['https://sr/', 'COMP-0']],
  [['remove'], ['https://sr/', 'COMP-0']],
  [['request'], ['name', 'https://sr/']],
  [['service', 'list'], []],
  [['service', 'info'], ['name']],
  [['computer', 'list'], []],
  [['computer', 'info'], ['COMP-0']],
  [['invoice', 'list'], []],
  [['invoice', 'show'], ['INV-202601-000001']],
];

test('every client command has --help naming --master-url, --cfg and --json', async () => {
  for (const [words] of COMMANDS) {
    const run = await runSlapos([...words, '--help'], { env });
    assert.equal(run.code, 0, `${words.join(' ')}: ${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^Usage: slapos ${words.join(' ')} \\[options\\]`));
    for (const option of ['--master-url <url>', '--cfg <path>', '--json']) {
      assert.ok(run.stdout.includes(option), `${words.join(' ')} --help lacks ${option}`);
    }
  }
  for (const group of ['service', 'computer']) {
    const run = await runSlapos([group, '--help'], { env });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /list \[options\]/);
    assert.match(run.stdout, /info \[options\] <reference>/);
  }
});

test('every client command without a master URL fails with exit 5 and a hint', async () => {
  for (const [words, args] of COMMANDS) {
    const command = [...words, ...args];
    const run = await runSlapos(command, { env });
    assert.equal(run.code, 5, command.join(' '));
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, expectedNoMaster, command.join(' '));
  }
});

const expectedNoMaster =
  'slapos: error: No master URL given\n' +
  'hint: pass --master-url http://HOST:PORT (`slapos proxy start` listens on http://127.0.0.1:8080 by default), set $SLAPOS_MASTER_URL, ' +
  'or set master_url in the [slapconsole] section of ~/.slapos/slapos-client.cfg\n';

test('the slapos binary supplies, requests and lists against a master', async () => {
  const bin = fileURLToPath(new URL('../../../../bin/slapos.js', import.meta.url));
  const master: MasterWithNode = await startMasterWithNode({ computerGuid: 'COMP-BIN' });
  const slapos = async (args: string[]): Promise<{ stdout: string; stderr: string }> =>
    promisify(execFile)(process.execPath, [bin, ...args], {
      env: { ...env, SLAPOS_MASTER_URL: master.url },
      timeout: 60_000,
    });
  try {
    const sr = 'https://example.com/software/hello/software.cfg';
    assert.equal((await slapos(['supply', sr, 'COMP-BIN'])).stdout, 'Done.\n');
    const requested = await slapos(['request', 'bin-instance', sr, '--node', 'computer_guid=COMP-BIN']);
    assert.match(requested.stdout, /^Instance requested\.\nState is : started\./);
    const list = await slapos(['service', 'list']);
    assert.equal(list.stdout, `List of services:\nbin-instance ${sr}\n`);
    const info = await slapos(['computer', 'info', 'COMP-BIN', '--json']);
    assert.equal((JSON.parse(info.stdout) as { instance_list: unknown[] }).instance_list.length, 1);
    await assert.rejects(slapos(['request', 'x', sr, '--state', 'bogus']), (error: { code?: number }) => {
      assert.equal(error.code, 5);
      return true;
    });
  } finally {
    await master.close();
  }
});
