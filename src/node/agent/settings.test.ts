import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNodeConfig } from '../config.ts';
import { throwsSlapError } from '../../testing/slap-error-assert.ts';
import { agentPaths, agentTimings } from './settings.ts';

function config(extra: string) {
  return parseNodeConfig(
    `[slapos]\ncomputer_id = C\nmaster_url = http://127.0.0.1:1/\nsoftware_root = /s\ninstance_root = /i\n${extra}\n`,
    { file: '/etc/slapos.cfg', isRoot: false },
  );
}

test('agent timings come from [slapos] agent_* options, in seconds', () => {
  assert.deepEqual(agentTimings(config('')), {});
  assert.deepEqual(
    agentTimings(
      config(
        [
          'agent_watch_timeout = 5',
          'agent_poll_interval = 0.5',
          'agent_anomaly_interval = 30',
          'agent_report_interval = 600',
          'agent_retry_delay = 0.4',
          'agent_retry_max_delay = 60',
          'agent_promise_grace = 3',
          'watch_local_software = yes',
          'agent_source_scan_interval = 2',
        ].join('\n'),
      ),
    ),
    {
      watchTimeoutMs: 5000,
      pollIntervalMs: 500,
      anomalyIntervalMs: 30_000,
      reportIntervalMs: 600_000,
      retry: { initialMs: 400, maxMs: 60_000 },
      promiseGraceMs: 3000,
      watchLocalSoftware: true,
      sourceScanIntervalMs: 2000,
    },
  );
  assert.deepEqual(agentTimings(config('watch_local_software = off')), {});
  // A maximum below the first delay is raised to it.
  assert.deepEqual(agentTimings(config('agent_retry_delay = 10\nagent_retry_max_delay = 1')).retry, {
    initialMs: 10_000,
    maxMs: 10_000,
  });
  assert.deepEqual(agentPaths('/srv/slapgrid'), {
    pidFile: '/srv/slapgrid/var/run/slapos-node-run.pid',
    statusFile: '/srv/slapgrid/var/run/slapos-node-run.json',
    controlSocket: '/srv/slapgrid/var/run/slapos-node-run.sock',
  });
});

test('bad agent timings are configuration errors naming the option', () => {
  for (const line of [
    'agent_watch_timeout = 51',
    'agent_watch_timeout = 0',
    'agent_poll_interval = soon',
    'agent_retry_delay = -1',
    'agent_report_interval = Infinity',
    'watch_local_software = maybe',
    'agent_source_scan_interval = 0',
  ]) {
    throwsSlapError(
      () => agentTimings(config(line)),
      'SLAP_ERR_CONFIG',
      new RegExp(line.split(' ')[0] ?? ''),
    );
  }
});
