import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import {
  DEFAULT_CONFIG_PATH,
  defaultInstanceConcurrency,
  defaultSandboxNetwork,
  backupSettings,
  formatConfig,
  loadNodeConfig,
  parseBoolean,
  parseByteSize,
  parseNodeConfig,
  resolveConfigPath,
} from './config.ts';
import { cidrText } from './format/ip.ts';

const MINIMAL = `
[slapos]
computer_id = COMP-1
master_url = http://127.0.0.1:8080
software_root = /opt/slapgrid
instance_root = /srv/slapgrid

[slapformat]
partition_amount = 3
`;

function parse(
  text: string,
  options: { isRoot?: boolean; overrides?: Record<string, string | number | boolean | undefined> } = {},
) {
  return parseNodeConfig(text, {
    file: '/etc/slapos/slapos.cfg',
    isRoot: options.isRoot ?? true,
    overrides: options.overrides ?? {},
  });
}

function configErrorOf(fn: () => unknown): SlapError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SlapError, `expected a SlapError, got ${String(error)}`);
    assert.equal(error.code, 'SLAP_ERR_CONFIG');
    return error;
  }
  assert.fail('no error thrown');
}

test('a minimal slapos.cfg gets the original defaults', () => {
  const config = parse(MINIMAL);
  assert.equal(config.computerId, 'COMP-1');
  assert.equal(config.masterUrl, 'http://127.0.0.1:8080/');
  assert.equal(config.softwareRoot, '/opt/slapgrid');
  assert.equal(config.instanceRoot, '/srv/slapgrid');
  assert.equal(config.sandbox, false);
  assert.equal(config.rootCheck, true);
  assert.equal(config.maximumPeriodicity, 86400);
  assert.equal(config.promiseTimeout, 20);
  assert.equal(config.partitionTimeout, undefined);
  assert.equal(config.softwareMinFreeSpace, 1000 * 1024 * 1024);
  assert.equal(config.pidfileInstance, '/opt/slapos/slapgrid-cp.pid');
  assert.deepEqual(config.sharedPartList, []);
  assert.deepEqual(config.networkcache, {});
  const format = formatConfig(
    parse(
      MINIMAL.replace(
        '[slapformat]',
        '[slapformat]\ninterface_name = eth0\nipv4_local_network = 10.0.0.0/16',
      ),
    ),
  );
  assert.equal(format.partitionAmount, 3);
  assert.equal(format.partitionBaseName, 'slappart');
  assert.equal(format.userBaseName, 'slapuser');
  assert.equal(format.softwareUser, 'slapsoft');
  assert.equal(format.alterUser, true);
  assert.equal(format.alterNetwork, true);
  assert.equal(format.ipv6Interface, 'eth0');
  assert.equal(format.partitionHasIpv6Range, true);
  assert.equal(format.ipv6Prefixshift, 16);
  assert.equal(cidrText(format.ipv4LocalNetwork ?? assert.fail()), '10.0.0.0/16');
});

test('sandbox is the default when not root and can be set either way', () => {
  assert.equal(parse(MINIMAL, { isRoot: false }).sandbox, true);
  assert.equal(parse(`${MINIMAL}\n[slapos]\nsandbox = false\n`, { isRoot: false }).sandbox, false);
  assert.equal(
    parse(MINIMAL.replace('[slapformat]', '[slapformat]\nsandbox = yes'), { isRoot: true }).sandbox,
    true,
  );
  const sandbox = parse(MINIMAL, { isRoot: false });
  // In sandbox mode pidfiles live under the instance root (nothing under /opt/slapos is writable).
  assert.equal(sandbox.pidfileSoftware, '/srv/slapgrid/var/run/slapgrid-sr.pid');
  const format = formatConfig(sandbox);
  assert.equal(format.alterUser, false);
  assert.equal(format.alterNetwork, false);
  assert.equal(format.partitionHasIpv6Range, false);
  assert.deepEqual(format.sandboxIpv4Network, defaultSandboxNetwork('/srv/slapgrid'));
});

test('[slapos] overrides [slapformat], and CLI overrides both (undefined = not given)', () => {
  const text = `${MINIMAL}
alter_user = false
alter_network = false
partition_base_name = fromformat
[slapos]
partition_base_name = fromslapos
promise_timeout = 7
`;
  const fromFile = parse(text);
  assert.equal(formatConfig(fromFile).partitionBaseName, 'fromslapos');
  assert.equal(formatConfig(fromFile).alterUser, false);
  assert.equal(fromFile.promiseTimeout, 7);
  const overridden = parse(text, {
    overrides: { alter_user: true, partition_base_name: undefined, 'promise-timeout': 30 },
  });
  assert.equal(formatConfig(overridden).alterUser, true);
  assert.equal(formatConfig(overridden).partitionBaseName, 'fromslapos');
  const network = parse(text, { overrides: { alter_network: 'true' } });
  assert.throws(() => formatConfig(network), /interface_name: is required when alter_network is true/);
  assert.equal(overridden.promiseTimeout, 30);
});

test('relative paths are resolved against the file, lists are split, networkcache is kept', () => {
  const config = parse(`
[slapos]
computer_id = C
master_url = https://master.example/api
software_root = soft
instance_root = ./inst
shared_part_list =
  /opt/shared-ro
  shared
manager_list = cpuset, devperm prerm
software_min_free_space = 2G
maximum_periodicity = -1

[networkcache]
download-binary-cache-url = https://shacache.example/
signature-certificate-list =
  -----BEGIN CERTIFICATE-----
`);
  assert.equal(config.softwareRoot, '/etc/slapos/soft');
  assert.equal(config.instanceRoot, '/etc/slapos/inst');
  assert.equal(config.masterUrl, 'https://master.example/api/');
  assert.deepEqual(config.sharedPartList, ['/opt/shared-ro', '/etc/slapos/shared']);
  assert.deepEqual(config.managerList, ['cpuset', 'devperm', 'prerm']);
  assert.equal(config.softwareMinFreeSpace, 2 * 1024 ** 3);
  assert.equal(config.maximumPeriodicity, -1);
  assert.equal(config.networkcache['download-binary-cache-url'], 'https://shacache.example/');
  assert.equal(
    config.document.get('networkcache', 'signature-certificate-list'),
    '\n-----BEGIN CERTIFICATE-----',
  );
});

test('byte sizes and booleans', () => {
  assert.equal(parseByteSize('1000M'), 1000 * 1024 * 1024);
  assert.equal(parseByteSize('10k'), 10240);
  assert.equal(parseByteSize('3 KiB'), 3072);
  assert.equal(parseByteSize('1.5G'), 1.5 * 1024 ** 3);
  assert.equal(parseByteSize('42'), 42);
  assert.equal(parseByteSize('42B'), 42);
  assert.equal(parseByteSize('1TB'), 1024 ** 4);
  assert.throws(() => parseByteSize('lots'), /not a byte size/);
  assert.throws(() => parseByteSize('10 X'), /not a byte size/);
  assert.equal(parseBoolean('True'), true);
  assert.equal(parseBoolean('off'), false);
  assert.throws(() => parseBoolean('maybe'), /not a boolean/);
});

test('bad configurations fail with SLAP_ERR_CONFIG naming the section and option', () => {
  let error = configErrorOf(() => parse('[slapformat]\npartition_amount = 1'));
  assert.match(error.message, /\[slapos\]: the \[slapos\] section is missing/);
  error = configErrorOf(() => parse(MINIMAL.replace('computer_id = COMP-1', '')));
  assert.match(error.message, /\[slapos\] computer_id: is required/);
  assert.deepEqual(error.details, {
    file: '/etc/slapos/slapos.cfg',
    section: 'slapos',
    option: 'computer_id',
  });
  error = configErrorOf(() => parse(MINIMAL.replace('http://127.0.0.1:8080', 'ftp://x')));
  assert.match(error.message, /\[slapos\] master_url: .* must be an http/);
  error = configErrorOf(() => parse(MINIMAL.replace('http://127.0.0.1:8080', 'not a url')));
  assert.match(error.message, /master_url: "not a url" is not a URL/);
  error = configErrorOf(() => parse(`${MINIMAL}\n[slapos]\npromise_timeout = soon\n`));
  assert.match(error.message, /\[slapos\] promise_timeout: "soon" is not an integer/);
  error = configErrorOf(() => parse(`${MINIMAL}\n[slapos]\npromise_timeout = 0\n`));
  assert.match(error.message, /promise_timeout: 0 is lower than 1/);
  error = configErrorOf(() => parse(`${MINIMAL}\n[slapos]\nroot_check = perhaps\n`));
  assert.match(error.message, /\[slapos\] root_check: not a boolean/);
  error = configErrorOf(() => parse(`${MINIMAL}\n[slapos]\ninstance_min_free_space = huge\n`));
  assert.match(error.message, /instance_min_free_space: not a byte size/);
  error = configErrorOf(() => parse(`${MINIMAL}\n[slapos]\nkey_file = /k\n`));
  assert.match(error.message, /key_file and cert_file must be given together/);
  error = configErrorOf(() => parse(`${MINIMAL}\n[slapos]\nkey_file = /k\ncert_file = /c\n`));
  assert.match(error.message, /certificate_repository_path: is required/);
  error = configErrorOf(() => parse('[slapos]\n  indented'));
  assert.match(error.message, /unexpected indented line/);

  const fmt = (extra: string, isRoot = true) =>
    configErrorOf(() => formatConfig(parse(`${MINIMAL}${extra}`, { isRoot })));
  assert.match(fmt('bridge_name = br0').message, /\[slapformat\] bridge_name: is obsolete/);
  assert.match(
    fmt('alter_network = false\npartition_amount = many').message,
    /partition_amount: "many" is not an integer/,
  );
  assert.match(
    fmt('alter_network = false\nalter_user = sure').message,
    /\[slapformat\] alter_user: not a boolean/,
  );
  assert.match(fmt('create_tap = true').message, /create_tap: is not supported yet/);
  assert.match(fmt('').message, /interface_name: is required when alter_network is true/);
  assert.match(fmt('interface_name = eth0').message, /ipv4_local_network: is required/);
  assert.match(
    fmt('interface_name = eth0\nipv4_local_network = 10.0.0.0/33').message,
    /invalid prefix length/,
  );
  assert.match(
    fmt('interface_name = eth0\nipv4_local_network = fd00::/64').message,
    /is not an IPv4 network/,
  );
  assert.match(
    fmt(
      'interface_name = eth0\nipv4_local_network = 10.0.0.0/16\npartition_amount = 100\nipv6_prefixshift = 8',
    ).message,
    /ipv6_prefixshift: 8 is too small for 100 partitions/,
  );
  assert.match(
    fmt('partition_base_name = ../etc', false).message,
    /partition_base_name: "..\/etc" is not a valid name/,
  );
  assert.match(fmt('alter_user = true', false).message, /alter_user: cannot be true in sandbox mode/);
  assert.match(
    fmt('sandbox_ipv4_network = 10.0.0.0/24', false).message,
    /sandbox_ipv4_network: must be inside 127.0.0.0\/8/,
  );
  assert.match(
    configErrorOf(() => formatConfig(parse(MINIMAL.replace('partition_amount = 3', '')))).message,
    /partition_amount: is required/,
  );
});

test('the file is found through --cfg, then SLAPOS_CONFIGURATION, then the default path', async () => {
  assert.equal(
    resolveConfigPath({ cfg: 'a.cfg', cwd: '/w', env: { SLAPOS_CONFIGURATION: '/b.cfg' } }),
    '/w/a.cfg',
  );
  assert.equal(resolveConfigPath({ cwd: '/w', env: { SLAPOS_CONFIGURATION: '/b.cfg' } }), '/b.cfg');
  assert.equal(resolveConfigPath({ cwd: '/w', env: { SLAPOS_CONFIGURATION: '' } }), DEFAULT_CONFIG_PATH);
  assert.equal(resolveConfigPath({ cfg: '~/x.cfg', env: { HOME: '/home/me' } }), '/home/me/x.cfg');

  const dir = await mkdtemp(join(tmpdir(), 'slapos-config-'));
  try {
    const file = join(dir, 'slapos.cfg');
    await writeFile(file, MINIMAL);
    const config = await loadNodeConfig({ env: { SLAPOS_CONFIGURATION: file }, isRoot: true });
    assert.equal(config.file, file);
    assert.equal(config.computerId, 'COMP-1');

    await assert.rejects(loadNodeConfig({ cfg: join(dir, 'missing.cfg') }), (error: SlapError) => {
      assert.equal(error.code, 'SLAP_ERR_CONFIG');
      assert.match(error.message, /missing.cfg does not exist/);
      assert.match(error.hint ?? '', /--cfg/);
      return true;
    });
    await writeFile(
      file,
      `${MINIMAL}\n[slapos]\nkey_file = ${dir}/key\ncert_file = ${dir}/cert\ncertificate_repository_path = ${dir}/repo\n`,
    );
    await assert.rejects(loadNodeConfig({ cfg: file }), /\[slapos\] key_file: .*key does not exist/);
    await writeFile(join(dir, 'key'), 'k');
    await writeFile(join(dir, 'cert'), 'c');
    assert.equal((await loadNodeConfig({ cfg: file })).keyFile, join(dir, 'key'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('default sandbox ranges are /24s of 127/8 outside 127.0.x.x, stable per instance root', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i += 1) {
    const cidr = defaultSandboxNetwork(`/tmp/instance-${i}`);
    const text = cidrText(cidr);
    assert.match(text, /^127\.\d+\.\d+\.0\/24$/);
    assert.doesNotMatch(text, /^127\.0\./);
    seen.add(text);
  }
  assert.ok(seen.size > 190, `${seen.size} distinct ranges`);
  assert.deepEqual(defaultSandboxNetwork('/a'), defaultSandboxNetwork('/a'));
});

test('instance_concurrency: four per core (at most 32) by default, its earlier agent_partition_concurrency name still read', () => {
  assert.equal(defaultInstanceConcurrency(2), 8);
  assert.equal(defaultInstanceConcurrency(64), 32);
  assert.equal(parse(MINIMAL).instanceConcurrency, defaultInstanceConcurrency());
  assert.equal(parse(`${MINIMAL}\n[slapos]\ninstance_concurrency = 3\n`).instanceConcurrency, 3);
  assert.equal(parse(`${MINIMAL}\n[slapos]\nagent_partition_concurrency = 5\n`).instanceConcurrency, 5);
  assert.equal(
    parse(`${MINIMAL}\n[slapos]\ninstance_concurrency = 2\nagent_partition_concurrency = 5\n`)
      .instanceConcurrency,
    2,
  );
  assert.equal(parse(MINIMAL, { overrides: { instance_concurrency: 7 } }).instanceConcurrency, 7);
  for (const [value, message] of [
    ['0', /instance_concurrency: 0 is lower than 1/],
    ['257', /instance_concurrency: 257 is greater than 256/],
    ['many', /instance_concurrency: "many" is not an integer/],
  ] as const)
    assert.match(
      configErrorOf(() => parse(`${MINIMAL}\n[slapos]\ninstance_concurrency = ${value}\n`)).message,
      message,
    );
});

test('instance_buildout: auto by default, native or release, anything else refused', () => {
  assert.equal(parse(MINIMAL).instanceBuildout, 'auto');
  for (const mode of ['auto', 'native', 'release'] as const)
    assert.equal(
      parse(MINIMAL.replace('[slapos]\n', `[slapos]\ninstance_buildout = ${mode}\n`)).instanceBuildout,
      mode,
    );
  const error = configErrorOf(() =>
    parse(MINIMAL.replace('[slapos]\n', '[slapos]\ninstance_buildout = python\n')),
  );
  assert.match(error.message, /instance_buildout/);
  assert.match(error.message, /auto, native, release/);
});

test('master_api: auto by default, json or legacy, anything else refused', () => {
  assert.equal(parse(MINIMAL).masterApi, 'auto');
  for (const api of ['auto', 'json', 'legacy'] as const)
    assert.equal(parse(MINIMAL.replace('[slapos]\n', `[slapos]\nmaster_api = ${api}\n`)).masterApi, api);
  const error = configErrorOf(() => parse(MINIMAL.replace('[slapos]\n', '[slapos]\nmaster_api = xml\n')));
  assert.match(error.message, /master_api/);
  assert.match(error.message, /auto, json, legacy/);
});

test('[backup]: defaults beside the instance root, listen, advertised url, heartbeat', () => {
  const parse = (extra: string) =>
    backupSettings(parseNodeConfig(`${MINIMAL}\n${extra}`, { file: '/etc/slapos.cfg', isRoot: true }));
  assert.deepEqual(parse(''), {
    directory: '/srv/backup',
    listen: undefined,
    url: undefined,
    heartbeatMs: undefined,
  });
  assert.deepEqual(parse('[backup]\ndirectory = b\nlisten = 10.0.0.1:8700\nheartbeat = 2.5\n'), {
    directory: '/etc/b',
    listen: { host: '10.0.0.1', port: 8700 },
    url: 'https://10.0.0.1:8700',
    heartbeatMs: 2500,
  });
  assert.equal(parse('[backup]\nlisten = [::1]:8700\n').url, 'https://[::1]:8700');
  assert.equal(
    parse('[backup]\nlisten = 0.0.0.0:8700\nurl = https://node1.example:8700/\n').url,
    'https://node1.example:8700',
  );
  for (const [bad, option] of [
    ['listen = 8700', 'listen'],
    ['listen = host:8700', 'listen'],
    ['listen = 10.0.0.1:0', 'listen'],
    ['listen = 10.0.0.1:70000', 'listen'],
    ['listen = 0.0.0.0:8700', 'url'],
    ['url = https://h:1', 'url'],
    ['listen = 10.0.0.1:8700\nurl = http://h:1', 'url'],
    ['listen = 10.0.0.1:8700\nurl = https://u:p@h:1', 'url'],
    ['listen = 10.0.0.1:8700\nurl = https://h:1/path', 'url'],
    ['heartbeat = 0', 'heartbeat'],
    ['heartbeat = soon', 'heartbeat'],
  ])
    assert.throws(
      () => parse(`[backup]\n${bad}\n`),
      (error: SlapError) => error.code === 'SLAP_ERR_CONFIG' && error.message.includes(`[backup] ${option}`),
      bad,
    );
});
