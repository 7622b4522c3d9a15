import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { publicUrlHost, serverHostNames } from '../master/master-mode.ts';
import { resolveMasterSettings } from './master-config.ts';

test('master settings: flags, else the [master] section of --cfg, else defaults', async () => {
  const work = await mkdtemp(join(tmpdir(), 'slapos-master-config-'));
  try {
    const cfg = join(work, 'master.cfg');
    await writeFile(
      cfg,
      '[master]\ndir = srv/master\nhost = 192.0.2.1\nport = 9443\ndatabase_uri = sqlite:///var/lib/master.db\npublic_url = https://master.example.com\n',
    );
    assert.deepEqual(resolveMasterSettings({ cfg }, { cwd: work }), {
      dir: join(work, 'srv/master'),
      host: '192.0.2.1',
      port: 9443,
      database: { kind: 'sqlite', path: '/var/lib/master.db' },
      publicUrl: 'https://master.example.com',
      regularisation: undefined,
      failover: { afterSeconds: undefined, graceAfterStartSeconds: undefined },
    });
    assert.deepEqual(resolveMasterSettings({ cfg, dir: 'd', port: '0', host: '::1' }, { cwd: work }), {
      dir: join(work, 'd'),
      host: '::1',
      port: 0,
      database: { kind: 'sqlite', path: '/var/lib/master.db' },
      publicUrl: 'https://master.example.com',
      regularisation: undefined,
      failover: { afterSeconds: undefined, graceAfterStartSeconds: undefined },
    });
    assert.deepEqual(resolveMasterSettings({ dir: '/m' }, { cwd: work }), {
      dir: '/m',
      host: '127.0.0.1',
      port: 8443,
      database: undefined,
      publicUrl: undefined,
      regularisation: undefined,
      failover: { afterSeconds: undefined, graceAfterStartSeconds: undefined },
    });
    assert.throws(() => resolveMasterSettings({}, { cwd: work }), /no master directory/);
    assert.throws(() => resolveMasterSettings({ dir: '/m', port: '70000' }, { cwd: work }), /invalid port/);
    assert.deepEqual(
      resolveMasterSettings({ dir: '/m', database: 'postgresql://u:pw@db/master' }, { cwd: work }).database,
      { kind: 'postgres', uri: 'postgresql://u:pw@db/master' },
    );
    assert.deepEqual(resolveMasterSettings({ dir: '/m', database: 'm.db' }, { cwd: work }).database, {
      kind: 'sqlite',
      path: join(work, 'm.db'),
    });
    assert.throws(
      () => resolveMasterSettings({ dir: '/m', database: 'mysql://u:s3cret@db/master' }, { cwd: work }),
      (error: unknown) =>
        error instanceof SlapError &&
        error.code === 'SLAP_ERR_CONFIG' &&
        error.message.startsWith('--database: unknown database URI scheme') &&
        !error.message.includes('s3cret'),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('server host names: the listening host (not a wildcard) and the public URL host', () => {
  assert.deepEqual(serverHostNames('127.0.0.1', undefined), ['127.0.0.1']);
  const machine = [
    { address: '127.0.0.1', family: 'IPv4' as const },
    { address: '192.0.2.7', family: 'IPv4' as const },
    { address: '2001:db8::7', family: 'IPv6' as const },
  ];
  // A wildcard listener is reached at any of the machine's addresses: each is covered.
  assert.deepEqual(serverHostNames('0.0.0.0', 'https://master.example.com:8443/', machine), [
    'master.example.com',
    '127.0.0.1',
    '192.0.2.7',
  ]);
  assert.deepEqual(serverHostNames('[::]', 'https://[2001:db8::1]/', machine), [
    '2001:db8::1',
    '127.0.0.1',
    '192.0.2.7',
    '2001:db8::7',
  ]);
  assert.ok(
    serverHostNames('::', undefined).every((name) => !name.toLowerCase().startsWith('fe80')),
    'no link-local address (they need a zone)',
  );
  assert.deepEqual(serverHostNames('192.0.2.1', 'https://192.0.2.1'), ['192.0.2.1']);
  assert.equal(publicUrlHost('https://Master.Example.com'), 'master.example.com');
  for (const bad of ['http://master.example.com', 'master.example.com', 'https://', ''])
    assert.throws(
      () => publicUrlHost(bad),
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_CONFIG',
      bad,
    );
});

test('the regularisation policy: [master] regularisation_stop_after_days and _destroy_after_days, or their flags', async () => {
  const work = await mkdtemp(join(tmpdir(), 'slapos-master-config-'));
  try {
    const cfg = join(work, 'master.cfg');
    await writeFile(
      cfg,
      '[master]\ndir = m\nregularisation_stop_after_days = 15\nregularisation_destroy_after_days = 45\n',
    );
    assert.deepEqual(resolveMasterSettings({ cfg }, { cwd: work }).regularisation, {
      stopAfterDays: 15,
      destroyAfterDays: 45,
    });
    assert.deepEqual(
      resolveMasterSettings({ cfg, regularisationStopAfterDays: '7' }, { cwd: work }).regularisation,
      { stopAfterDays: 7, destroyAfterDays: 45 },
    );
    const refused = (flags: Record<string, string>, message: RegExp): void =>
      assert.throws(
        () => resolveMasterSettings({ dir: '/m', ...flags }, { cwd: work }),
        (error: unknown) =>
          error instanceof SlapError && error.code === 'SLAP_ERR_CONFIG' && message.test(error.message),
        JSON.stringify(flags),
      );
    refused({ regularisationStopAfterDays: '10' }, /needs both/);
    refused({ regularisationStopAfterDays: '10', regularisationDestroyAfterDays: '10' }, /must be more than/);
    for (const text of ['', ' 10', '1e2', '-1', '0x10', '10\n', '10\u2028', '1.5', '9999999999'])
      refused(
        { regularisationStopAfterDays: text, regularisationDestroyAfterDays: '400' },
        /^--regularisation-stop-after-days: a whole number of days/,
      );
    refused({ regularisationStopAfterDays: '0', regularisationDestroyAfterDays: '4' }, /at least 1/);
    await writeFile(cfg, '[master]\ndir = m\nregularisation_stop_after_days = ten\n');
    assert.throws(
      () => resolveMasterSettings({ cfg }, { cwd: work }),
      /\[master\] regularisation_stop_after_days: a whole number of days, not "ten"/,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('failover settings: [master] failover_after and failover_grace_after_start, or their flags; whole seconds only', async () => {
  const work = await mkdtemp(join(tmpdir(), 'slapos-master-config-'));
  try {
    const cfg = join(work, 'slapos.cfg');
    await writeFile(cfg, '[master]\ndir = m\nfailover_after = 30\nfailover_grace_after_start = 60\n');
    assert.deepEqual(resolveMasterSettings({ cfg }, { cwd: work }).failover, {
      afterSeconds: 30,
      graceAfterStartSeconds: 60,
    });
    assert.deepEqual(resolveMasterSettings({ cfg, failoverAfter: '9' }, { cwd: work }).failover, {
      afterSeconds: 9,
      graceAfterStartSeconds: 60,
    });
    for (const text of ['0', '-1', '1.5', '', ' 5', '5\n', '1e3', '9999999'])
      assert.throws(
        () => resolveMasterSettings({ dir: 'm', failoverAfter: text }, { cwd: work }),
        /--failover-after: a whole number of seconds/,
        JSON.stringify(text),
      );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
