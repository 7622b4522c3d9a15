import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMasterClient } from '../client/master-api.ts';
import { startNodeHarness } from '../testing/node-passes.ts';
import { hasGlobalIpv6, runBootPass } from './boot.ts';
import { formatComputeNode } from './format/format.ts';
import { masterRegistrar } from './master.ts';

const IF_INET6_LOCAL =
  '00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80     eth0\n';
const IF_INET6_GLOBAL = `${IF_INET6_LOCAL}20010db8000000000000000000000002 02 40 00 80     eth0\n`;

test('boot: waits for IPv6, formats until it works, bangs the compute node, clears the timestamps', async () => {
  const h = await startNodeHarness({ supervisor: false, partitions: 2 });
  try {
    for (const id of ['slappart0', 'slappart1'])
      await writeFile(join(h.config.instanceRoot, id, '.timestamp'), '123-abc');
    let formats = 0;
    let reads = 0;
    const steps: string[] = [];
    const result = await runBootPass(h.config, {
      master: h.client,
      message: 'Reboot',
      ipv6Interface: 'eth0',
      readIfInet6: () => Promise.resolve(++reads < 3 ? IF_INET6_LOCAL : IF_INET6_GLOBAL),
      format: () => {
        formats++;
        if (formats === 1) return Promise.reject(new Error('the master is not up yet'));
        return formatComputeNode(h.config, { registrar: masterRegistrar(h.client), isRoot: false });
      },
      retryDelayMs: 10,
      onProgress: (event) => {
        if (event.type === 'step') steps.push(event.message);
      },
    });
    assert.equal(reads, 3, 'polled until the global address appeared');
    assert.equal(result.formatAttempts, 2);
    assert.equal(result.bangAttempts, 1);
    assert.equal(h.db.computeNodeBang(), 'Reboot');
    assert.deepEqual(result.cleared, ['slappart0', 'slappart1']);
    for (const id of ['slappart0', 'slappart1'])
      assert.equal(existsSync(join(h.config.instanceRoot, id, '.timestamp')), false);
    assert.ok(steps.includes('Banging the compute node COMP-NODE'));

    // The master cannot be reached: the bang is retried, then (with a limit) given up.
    const unreachable = createMasterClient({
      api: 'json',
      masterUrl: 'http://127.0.0.1:9/',
      timeoutMs: 2000,
    });
    try {
      await assert.rejects(
        runBootPass(h.config, {
          master: unreachable,
          format: () => Promise.resolve({ postError: undefined }),
          retryDelayMs: 10,
          maxAttempts: 2,
        }),
        { code: 'SLAP_ERR_UNAVAILABLE' },
      );
    } finally {
      await unreachable.close();
    }
  } finally {
    await h.close();
  }
});

test('hasGlobalIpv6 reads /proc/net/if_inet6 (scope 00 = global)', () => {
  assert.equal(hasGlobalIpv6(IF_INET6_LOCAL, 'eth0'), false);
  assert.equal(hasGlobalIpv6(IF_INET6_GLOBAL, 'eth0'), true);
  assert.equal(hasGlobalIpv6(IF_INET6_GLOBAL, 'eth1'), false);
});
