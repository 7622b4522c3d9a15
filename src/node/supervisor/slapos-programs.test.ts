import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, waitFor, writeScript } from '../../testing/supervisor.ts';
import { recordingNotifier } from './notifiers.ts';
import { partitionPrograms } from './slapos-programs.ts';
import { createSupervisor } from './supervisor.ts';

test('a partition as SlapOS declares it: etc/run runs once, etc/service is watched and restarted', async (t) => {
  const dir = await tempDir();
  const partition = join(dir.path, 'slappart0');
  await mkdir(join(partition, 'etc', 'run'), { recursive: true });
  await mkdir(join(partition, 'etc', 'service'), { recursive: true });
  await writeScript(join(partition, 'etc', 'run'), 'bootstrap', 'echo "bootstrap as $USER in $PWD"');
  await writeScript(join(partition, 'etc', 'service'), 'web', 'echo "web up"; exec sleep 1000');
  const recorder = recordingNotifier();
  const supervisor = await createSupervisor({
    stateDir: join(dir.path, 'state'),
    onUnexpectedExit: recorder.notify,
    timing: { backoffUnitMs: 100 },
  });
  t.after(async () => {
    await supervisor.close({ stopPrograms: true });
    await dir.remove();
  });

  const programs = partitionPrograms({
    group: 'slappart0',
    partitionPath: partition,
    runFiles: ['bootstrap'],
    serviceFiles: ['web'],
    user: 'slapuser0',
    home: partition,
  });
  assert.deepEqual(
    programs.map((p) => [p.name, p.command, p.autorestart, p.exitcodes, p.stopwaitsecs, p.logFile]),
    [
      [
        'bootstrap',
        join(partition, 'etc/run/bootstrap'),
        false,
        [0],
        60,
        join(partition, '.slappart0_bootstrap.log'),
      ],
      [
        'web-on-watch',
        join(partition, 'etc/service/web'),
        true,
        [],
        60,
        join(partition, '.slappart0_web.log'),
      ],
    ],
  );
  await supervisor.updateGroup('slappart0', programs);
  assert.deepEqual(
    (await supervisor.status()).processes.map((p) => p.state),
    ['STOPPED', 'STOPPED'],
    'SlapOS programs do not autostart: the agent starts the partition',
  );
  const results = await supervisor.startGroup('slappart0');
  assert.ok(results.every((r) => r.ok));

  await waitFor('bootstrap ran', async () => {
    const bootstrap = (await supervisor.status()).processes.find((p) => p.name === 'bootstrap');
    return bootstrap?.state === 'EXITED';
  });
  assert.equal(
    readFileSync(join(partition, '.slappart0_bootstrap.log'), 'utf8'),
    `bootstrap as slapuser0 in ${partition}\n`,
  );
  const web = (await supervisor.status()).processes.find((p) => p.name === 'web-on-watch');
  assert.ok(web?.pid);
  process.kill(web.pid, 'SIGKILL');
  const restarted = await waitFor('web restarted', async () => {
    const now = (await supervisor.status()).processes.find((p) => p.name === 'web-on-watch');
    return now?.state === 'RUNNING' && now.pid !== web.pid ? now : undefined;
  });
  assert.ok(restarted.pid);
  await waitFor('bang', () => recorder.calls.length > 0);
  assert.deepEqual(
    recorder.calls.map((c) => [c.group, c.program, c.info.state, c.info.exitSignal]),
    [['slappart0', 'web-on-watch', 'EXITED', 'SIGKILL']],
  );
  assert.match(recorder.calls[0]?.info.logTail ?? '', /web up/);
  assert.ok(existsSync(join(partition, '.slappart0_web.log')));
  const bootstrap = (await supervisor.status()).processes.find((p) => p.name === 'bootstrap');
  assert.equal(bootstrap?.state, 'EXITED', 'etc/run programs are not restarted');
});
