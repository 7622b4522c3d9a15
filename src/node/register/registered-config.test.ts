import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../../core/errors.ts';
import { parseIni } from '../../lib/ini.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { parseNodeConfig } from '../config.ts';
import {
  defaultRoots,
  registrationLayout,
  renderRegisteredNodeConfig,
  type RegisteredNodeSettings,
} from './registered-config.ts';

const layout = registrationLayout('/etc/opt/slapos');

function settings(overrides: Partial<RegisteredNodeSettings> = {}): RegisteredNodeSettings {
  return {
    computerId: 'COMP-7',
    masterUrl: 'https://master.example:8443/',
    sandbox: false,
    withMasterCa: true,
    partitionNumber: 10,
    ...defaultRoots('/etc/opt/slapos', false),
    interfaceName: 'lo',
    ipv4LocalNetwork: '10.0.0.0/16',
    ...overrides,
  };
}

test('the written slapos.cfg is what node commands read: certificates, roots, format options', () => {
  const text = renderRegisteredNodeConfig(layout, settings());
  const config = parseNodeConfig(text, { file: layout.configFile, isRoot: true });
  assert.equal(config.computerId, 'COMP-7');
  assert.equal(config.masterUrl, 'https://master.example:8443/');
  assert.equal(config.keyFile, '/etc/opt/slapos/ssl/computer.key');
  assert.equal(config.certFile, '/etc/opt/slapos/ssl/computer.crt');
  assert.equal(config.masterCaFile, '/etc/opt/slapos/ssl/master-ca.crt');
  assert.equal(config.certificateRepositoryPath, '/etc/opt/slapos/ssl/partition_pki');
  assert.equal(config.softwareRoot, '/opt/slapgrid');
  assert.equal(config.instanceRoot, '/srv/slapgrid');
  assert.equal(config.sandbox, false);
  assert.equal(config.masterToken, undefined);
  const format = parseIni(text).items('slapformat');
  assert.deepEqual(format, {
    partition_amount: '10',
    interface_name: 'lo',
    ipv4_local_network: '10.0.0.0/16',
    partition_base_name: 'slappart',
    user_base_name: 'slapuser',
    software_user: 'slapsoft',
  });
});

test('sandbox: the roots under the configuration directory, no master CA when none was given', () => {
  const text = renderRegisteredNodeConfig(
    layout,
    settings({
      sandbox: true,
      withMasterCa: false,
      interfaceName: undefined,
      ipv4LocalNetwork: undefined,
      ...defaultRoots('/etc/opt/slapos', true),
    }),
  );
  const config = parseNodeConfig(text, { file: layout.configFile, isRoot: false });
  assert.equal(config.sandbox, true);
  assert.equal(config.softwareRoot, '/etc/opt/slapos/soft');
  assert.equal(config.instanceRoot, '/etc/opt/slapos/inst');
  assert.equal(config.masterCaFile, undefined);
  assert.deepEqual(parseIni(text).items('slapformat'), { partition_amount: '10' });
});

test('hostile values: refused, or read back exactly without changing the sections and options', () => {
  const random = seededRandom(8);
  const reference = parseIni(renderRegisteredNodeConfig(layout, settings()));
  const fields = [
    'computerId',
    'masterUrl',
    'softwareRoot',
    'instanceRoot',
    'interfaceName',
    'ipv4LocalNetwork',
  ] as const;
  let refused = 0;
  let kept = 0;
  for (let i = 0; i < 3000; i++) {
    const field = fields[i % fields.length] as (typeof fields)[number];
    const value =
      i < 40
        ? ['%', '%(x)s', '[evil]', 'a\nb = c', '%%', ' x', 'x\r[slapos]'][i % 7]!
        : hostileString(random);
    let text: string;
    try {
      text = renderRegisteredNodeConfig(layout, settings({ [field]: value }));
    } catch (error) {
      assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_CONFIG', String(error));
      if (value.length > 12) assert.ok(!error.message.includes(value), 'the value is not echoed');
      refused++;
      continue;
    }
    kept++;
    const document = parseIni(text);
    assert.deepEqual(document.sections(), reference.sections());
    for (const section of reference.sections())
      assert.deepEqual(Object.keys(document.items(section)), Object.keys(reference.items(section)));
    const read = {
      computerId: document.get('slapos', 'computer_id'),
      masterUrl: document.get('slapos', 'master_url'),
      softwareRoot: document.get('slapos', 'software_root'),
      instanceRoot: document.get('slapos', 'instance_root'),
      interfaceName: document.get('slapformat', 'interface_name'),
      ipv4LocalNetwork: document.get('slapformat', 'ipv4_local_network'),
    };
    assert.equal(read[field], value, JSON.stringify(value));
  }
  assert.ok(refused > 100 && kept > 100, `${refused} refused, ${kept} kept`);
});

test('a negative or fractional partition number is refused', () => {
  for (const partitionNumber of [-1, 1.5, Number.NaN])
    assert.throws(() => renderRegisteredNodeConfig(layout, settings({ partitionNumber })), /whole number/);
});
