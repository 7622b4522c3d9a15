/**
 * Automatic takeover across machines (issue 12), for real: a master and three compute nodes on
 * separate hosts of a test network (src/testing/resilient-site.ts), each node's agent running with
 * its backup repository server; the key-value example (examples/kv) requested resilient with two
 * clones, backing up every 2 s; the scenario of src/testing/takeover-scenario.ts: a client writes
 * continuously, the main's node is lost, a clone takes over with every write acknowledged before
 * its newest backup, the lost node returns fenced and becomes a clone. The second test does the
 * same (from the new main) with the master restarted during the detection. The time from the
 * node's loss to the clone answering is printed (diagnostic), never asserted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResilientSite } from '../src/testing/resilient-site.ts';
import {
  deployResilientKv,
  describeTakeover,
  loseMainAndTakeOver,
} from '../src/testing/takeover-scenario.ts';

const NAME = 'kv';
const HEARTBEAT_SECONDS = 1;
const FAILOVER_AFTER_SECONDS = 6;
const BACKUP_PERIOD_SECONDS = 2;
const SETTINGS = `failover_after ${FAILOVER_AFTER_SECONDS} s, heartbeat ${HEARTBEAT_SECONDS} s, backup period ${BACKUP_PERIOD_SECONDS} s`;

describe('a resilient key-value store over three nodes', () => {
  let site: ResilientSite | undefined;
  const resilientSite = (): ResilientSite => {
    assert.ok(site, 'the site is up');
    return site;
  };

  before(async () => {
    site = await ResilientSite.create({
      heartbeatSeconds: HEARTBEAT_SECONDS,
      master: { failover_after: String(FAILOVER_AFTER_SECONDS) },
    });
    await deployResilientKv(site, { name: NAME, clones: 2, backupPeriodSeconds: BACKUP_PERIOD_SECONDS });
  });

  after(async () => {
    await site?.destroy();
    site = undefined;
  });

  test('the main node lost: a clone takes over with every write acknowledged before its backup; the node returns fenced, then a clone', async (t) => {
    const figures = await loseMainAndTakeOver(resilientSite(), {
      name: NAME,
      phase: 'first',
      restartMaster: false,
    });
    t.diagnostic(`takeover (${SETTINGS}): ${describeTakeover(figures)}`);
  });

  test('the same with the master restarted during the detection', async (t) => {
    const figures = await loseMainAndTakeOver(resilientSite(), {
      name: NAME,
      phase: 'second',
      restartMaster: true,
    });
    t.diagnostic(`takeover, master restarted (${SETTINGS}): ${describeTakeover(figures)}`);
  });
});
