import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIni } from '../lib/ini.ts';
import { SlapError } from '../core/errors.ts';
import { defaultDatabasePath, resolveProxySettings } from './proxy-config.ts';
import { locateSlaposConfig } from './slapos-config.ts';

const CONFIG = parseIni(
  '[slapos]\ncomputer_id = COMP-7\n[slapproxy]\nhost = 127.0.0.2\nport = 8081\ndatabase_uri = sqlite:///srv/proxy.db\n',
);

test('settings come from slapos.cfg, explicit flags override them', () => {
  const env = { HOME: '/home/u' };
  assert.deepEqual(resolveProxySettings({}, { config: CONFIG, env, cwd: '/' }), {
    host: '127.0.0.2',
    port: 8081,
    portSource: 'slapos.cfg [slapproxy] port',
    database: { kind: 'sqlite', path: '/srv/proxy.db' },
    computerId: 'COMP-7',
    softwareProducts: new Map(),
  });
  assert.deepEqual(
    resolveProxySettings(
      { host: '::1', port: '0', database: 'db/p.db', computerId: 'X' },
      { config: CONFIG, env, cwd: '/work' },
    ),
    {
      host: '::1',
      port: 0,
      portSource: '--port',
      database: { kind: 'sqlite', path: '/work/db/p.db' },
      computerId: 'X',
      softwareProducts: new Map(),
    },
  );
  assert.deepEqual(resolveProxySettings({}, { env, cwd: '/' }), {
    host: '127.0.0.1',
    port: 8080,
    portSource: 'the default',
    database: { kind: 'sqlite', path: '/home/u/.local/share/slapos/proxy.db' },
    computerId: undefined,
    softwareProducts: new Map(),
  });
  assert.equal(defaultDatabasePath({ XDG_DATA_HOME: '/data' }), '/data/slapos/proxy.db');
  // The location's syntax is tested in src/master/storage/database-location.test.ts; here, where it
  // comes from: the error names the source, a PostgreSQL URI is kept whole.
  assert.deepEqual(
    resolveProxySettings(
      {},
      {
        config: parseIni('[slapproxy]\ndatabase_uri = postgresql://u:p@h/d\n'),
        configPath: '/c.cfg',
        env,
        cwd: '/',
      },
    ).database,
    { kind: 'postgres', uri: 'postgresql://u:p@h/d' },
  );
  assert.throws(
    () =>
      resolveProxySettings(
        {},
        {
          config: parseIni('[slapproxy]\ndatabase_uri = mysql://u:s3cret@h/d\n'),
          configPath: '/c.cfg',
          env,
          cwd: '/',
        },
      ),
    (error: unknown) =>
      error instanceof SlapError &&
      error.code === 'SLAP_ERR_CONFIG' &&
      error.message.startsWith('/c.cfg [slapproxy] database_uri: unknown database URI scheme') &&
      !error.message.includes('s3cret'),
  );
  assert.throws(() => resolveProxySettings({ port: '99999' }, { env, cwd: '/' }), /invalid port/);
  assert.throws(
    () =>
      resolveProxySettings(
        {},
        { config: parseIni('[slapproxy]\nport = http\n'), configPath: '/c.cfg', env, cwd: '/' },
      ),
    /\/c\.cfg \[slapproxy\] port: invalid port/,
  );
});

test('[slapproxy] software_product_list: one "name url" pair per line', () => {
  const config = parseIni(
    '[slapproxy]\nsoftware_product_list =\n  kvm https://example.com/kvm/software.cfg\n  re6st https://example.com/re6st/software.cfg\n',
  );
  const settings = resolveProxySettings({}, { config, configPath: '/c.cfg', env: {}, cwd: '/' });
  assert.deepEqual(
    settings.softwareProducts,
    new Map([
      ['kvm', 'https://example.com/kvm/software.cfg'],
      ['re6st', 'https://example.com/re6st/software.cfg'],
    ]),
  );
  assert.throws(
    () =>
      resolveProxySettings(
        {},
        {
          config: parseIni('[slapproxy]\nsoftware_product_list = kvm\n'),
          configPath: '/c.cfg',
          env: {},
          cwd: '/',
        },
      ),
    /\/c\.cfg \[slapproxy\] software_product_list: expected "name url" per line/,
  );
});

test('slapos.cfg is --cfg, else $SLAPOS_CONFIGURATION, else the system file if it exists', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-cfg-'));
  try {
    const system = join(directory, 'slapos.cfg');
    assert.equal(locateSlaposConfig({ env: {}, cwd: '/', systemPath: system }), undefined);
    await writeFile(system, '[slapos]\n');
    assert.equal(locateSlaposConfig({ env: {}, cwd: '/', systemPath: system }), system);
    assert.equal(
      locateSlaposConfig({ env: { SLAPOS_CONFIGURATION: 'e.cfg' }, cwd: '/x', systemPath: system }),
      '/x/e.cfg',
    );
    assert.equal(
      locateSlaposConfig({
        cfg: '/a.cfg',
        env: { SLAPOS_CONFIGURATION: 'e.cfg' },
        cwd: '/x',
        systemPath: system,
      }),
      '/a.cfg',
    );
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
