import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instanceStatus, softwareInstallationStatus, type InstanceReportFacts } from './instance-status.ts';

const AVAILABLE = { status: 'available', errorMessage: null } as const;

function facts(overrides: Partial<InstanceReportFacts>): InstanceReportFacts {
  return {
    requestedState: 'started',
    allocated: true,
    partitionTimestamp: 100,
    reportedState: null,
    reportedAt: null,
    errorMessage: null,
    errorAt: null,
    software: AVAILABLE,
    ...overrides,
  };
}

test('software installation: requested → building → available, or failed; destroying', () => {
  const of = (reportedState: string | null, requestedState: 'available' | 'destroyed' = 'available') =>
    softwareInstallationStatus({ requestedState, reportedState });
  assert.equal(of(null), 'requested');
  assert.equal(of('building'), 'building');
  assert.equal(of('available'), 'available');
  assert.equal(of('error'), 'failed');
  assert.equal(of('available', 'destroyed'), 'destroying');
  assert.equal(of('something new'), 'requested');
});

test('instance: reports older than the last change do not count; the newest report wins', () => {
  const cases: [Partial<InstanceReportFacts>, string, string | null][] = [
    [{ allocated: false }, 'unallocated', null],
    [{ requestedState: 'destroyed', reportedState: 'started', reportedAt: 150 }, 'destroying', null],
    [{}, 'deploying', null],
    [{ reportedState: 'started', reportedAt: 150 }, 'started', null],
    [{ requestedState: 'stopped', reportedState: 'stopped', reportedAt: 150 }, 'stopped', null],
    // Started, then asked to stop: the node has not acted yet.
    [{ requestedState: 'stopped', reportedState: 'started', reportedAt: 150 }, 'deploying', null],
    // A report from before the latest request (a new parameter, a bang).
    [{ reportedState: 'started', reportedAt: 90 }, 'deploying', null],
    [{ errorMessage: 'boom', errorAt: 150 }, 'failed', 'boom'],
    [{ reportedState: 'started', reportedAt: 140, errorMessage: 'boom', errorAt: 150 }, 'failed', 'boom'],
    // Fixed since: the later started report wins.
    [{ reportedState: 'started', reportedAt: 160, errorMessage: 'boom', errorAt: 150 }, 'started', null],
    // Failed before the latest request: it is being deployed again.
    [{ errorMessage: 'boom', errorAt: 90 }, 'deploying', null],
  ];
  for (const [overrides, status, message] of cases)
    assert.deepEqual(instanceStatus(facts(overrides)), { status, message }, JSON.stringify(overrides));
});

test('instance: waiting for its software release, or its build error', () => {
  assert.deepEqual(instanceStatus(facts({ software: { status: 'building', errorMessage: null } })), {
    status: 'waiting-software',
    message: 'its software release is building',
  });
  assert.deepEqual(instanceStatus(facts({ software: { status: 'requested', errorMessage: null } })), {
    status: 'waiting-software',
    message: 'its software release is requested',
  });
  assert.equal(instanceStatus(facts({ software: undefined })).status, 'waiting-software');
  const failed = {
    status: 'failed',
    errorMessage: 'build failed\n\nLast lines of the build log:\nerror',
  } as const;
  assert.deepEqual(instanceStatus(facts({ software: failed })), {
    status: 'software-failed',
    message: 'build failed\n\nLast lines of the build log:\nerror',
  });
  // `node instance` reports "not installed" errors meanwhile: the build's error explains them.
  assert.equal(
    instanceStatus(facts({ software: failed, errorMessage: 'not installed', errorAt: 150 })).status,
    'software-failed',
  );
  // An instance running as asked stays so while its release is rebuilt.
  assert.equal(
    instanceStatus(facts({ software: failed, reportedState: 'started', reportedAt: 150 })).status,
    'started',
  );
});
