import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNodeHarness } from '../testing/node-passes.ts';
import { throwsSlapError } from '../testing/slap-error-assert.ts';
import { writePartitionRecord } from './instance/partition-files.ts';
import { handleServiceExit, LATEST_BANG_FILE, parseServiceExitEvent } from './watchdog.ts';

test('watchdog: bangs once per successful deployment, only for watched services', async () => {
  const h = await startNodeHarness({ supervisor: false, partitions: 2 });
  try {
    const instance = await h.client.requestInstance({ title: 'w', softwareReleaseUri: '/sr/software.cfg' });
    const partition = instance.compute_partition_id;
    const path = join(h.config.instanceRoot, partition);
    const exit = {
      group: partition,
      program: 'app-on-watch',
      state: 'EXITED',
      exitCode: 1,
      exitSignal: null,
    };
    const bang = () => handleServiceExit(h.config, exit, { master: h.client });
    const bangMessage = () => h.db.instance('w')?.bang_message ?? null;

    assert.deepEqual(
      await handleServiceExit(h.config, { ...exit, program: 'app' }, { master: h.client }),
      { banged: false, reason: 'not a watched service' },
      'etc/run programs are not watched',
    );
    assert.deepEqual(await handleServiceExit(h.config, { ...exit, group: '../etc' }, { master: h.client }), {
      banged: false,
      reason: 'not a partition',
    });

    // Never deployed: the first exit bangs (the instance guid comes from the master).
    const first = await bang();
    assert.equal(first.banged, true);
    assert.equal(
      bangMessage(),
      `app-on-watch process in partition ${partition} encountered a problem (exited with status 1)`,
    );
    assert.equal(await readFile(join(path, LATEST_BANG_FILE), 'utf8'), '0');
    assert.equal((await bang()).banged, false, 'no deployment since the bang');

    // A successful deployment: the next exit bangs again, once.
    await writeFile(join(path, '.timestamp'), '1700000000-abc');
    await mkdir(join(path, '.slapgrid'), { recursive: true });
    await writePartitionRecord(path, {
      instanceGuid: instance.instance_guid,
      title: 'w',
      requestedState: 'started',
      softwareReleaseUrl: '/sr/software.cfg',
      reported: 'started',
    });
    const second = await handleServiceExit(
      h.config,
      { ...exit, exitCode: null, exitSignal: 'SIGKILL' },
      { master: h.client },
    );
    assert.equal(second.banged, true);
    assert.match(bangMessage() ?? '', /\(killed by signal SIGKILL\)$/);
    assert.deepEqual(await bang(), { banged: false, reason: 'already banged for this deployment' });
    assert.equal(await readFile(join(path, LATEST_BANG_FILE), 'utf8'), '1700000000-abc');
  } finally {
    await h.close();
  }
});

test('watchdog: the event must be JSON with a group and a program', () => {
  throwsSlapError(() => parseServiceExitEvent('not json'), 'SLAP_ERR_INVALID_INPUT');
  throwsSlapError(() => parseServiceExitEvent('{"group": "slappart0"}'), 'SLAP_ERR_INVALID_INPUT');
  assert.equal(parseServiceExitEvent('{"group": "a", "program": "b-on-watch"}').program, 'b-on-watch');
});
