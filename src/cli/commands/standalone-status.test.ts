import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StandaloneStatus } from '../../standalone/standalone.ts';
import { workLines } from './standalone-status.ts';

test('standalone status: labelled columns, instance titles, every line of an error', () => {
  const agent: StandaloneStatus['agent'] = {
    pid: 1,
    running: true,
    log: '/sa/var/log/slapos-node-run.log',
    state: 'running',
    revision: 3,
    local_changes: [],
    software: [
      { url: '/r/hello/software.cfg', phase: 'available', attempts: 0 },
      {
        url: '/r/broken/software.cfg',
        phase: 'failed',
        attempts: 2,
        error: { code: 'SLAP_ERR_BUILDOUT_FAILED', message: 'exit status 3\nconfigure: error: libfoo' },
      },
    ],
    partitions: [
      {
        partitionId: 'slappart0',
        instanceGuid: 'hello______0',
        title: 'hello',
        requestedState: 'started',
        phase: 'started',
        attempts: 0,
      },
      {
        partitionId: 'slappart10',
        instanceGuid: 'shop______0',
        title: 'shop',
        requestedState: 'started',
        phase: 'failed',
        attempts: 1,
        error: {
          code: 'SLAP_ERR_PROMISE_FAILED',
          message: "Promise 'web' failed with output: refused\r\nsecond line\u2028third\x1b[0m",
        },
      },
    ],
  };
  assert.deepEqual(workLines({ agent }), [
    'Software releases:',
    '  PHASE      SOFTWARE RELEASE',
    '  available  /r/hello/software.cfg',
    '  failed     /r/broken/software.cfg',
    '             error: exit status 3',
    '             configure: error: libfoo',
    'Instances:',
    '  PARTITION   TITLE  STATE    PHASE    ERROR',
    '  slappart0   hello  started  started',
    "  slappart10  shop   started  failed   Promise 'web' failed with output: refused",
    '                                       second line',
    '                                       third\\u001b[0m',
  ]);
  assert.deepEqual(workLines({ agent: { ...agent, software: [], partitions: [] } }), []);
});
