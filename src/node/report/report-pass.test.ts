import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../lib/exec.ts';
import { packageRoot } from '../../lib/package-root.ts';
import { runInstancePass } from '../instance/instance-pass.ts';
import { runSoftwarePass } from '../software/software-pass.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
  type NodeHarness,
} from '../../testing/node-passes.ts';
import { runReportPass } from './report-pass.ts';
import { parsePartitionConsumption, usageJournal } from './usage-xml.ts';

/** Validates XML against one of the contract's schemas with xmllint (Debian libxml2-utils). */
async function validate(xml: string, schema: string, dir: string): Promise<void> {
  const file = join(dir, `check-${Date.now()}.xml`);
  await writeFile(file, xml);
  const result = await execFile(
    'xmllint',
    ['--noout', '--schema', join(packageRoot(), 'src', 'api', 'xsd', schema), file],
    {
      timeoutMs: 30_000,
    },
  );
  assert.equal(result.exitCode, 0, `xmllint: ${result.stderr}`);
}

const CONSUMPTION =
  '<consumption><movement><resource>service_module/requests</resource><title>Requests</title>' +
  '<reference>whatever</reference><quantity>42</quantity><price>0.0</price><VAT></VAT>' +
  '<category>unit/piece</category></movement></consumption>';

let h: NodeHarness;
let metered: string;

before(async () => {
  h = await startNodeHarness({ partitions: 3 });
  metered = await writeSoftwareRelease(h.dir, 'metered', {
    instance: helloInstance({
      extraParts: 'report',
      extra: [
        '[report]',
        'recipe = slapos.recipe.template',
        'output = $${buildout:directory}/etc/report/requests',
        'mode = 0755',
        'inline =',
        '  #!/bin/sh',
        `  printf '%s' '${CONSUMPTION}' > "$1"`,
        '',
      ].join('\n'),
    }),
  });
  await h.client.supply({ softwareReleaseUri: metered, computerGuid: COMPUTER_ID });
  assert.equal((await runSoftwarePass(h.config, { master: h.client })).exitCode, 0);
});

after(async () => {
  await h.close();
});

test('report: usage of each partition sent as a journal valid against computer_consumption.xsd', async () => {
  const partition = (await h.client.requestInstance({ title: 'metered', softwareReleaseUri: metered }))
    .compute_partition_id;
  const deployed = await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor });
  assert.equal(deployed.exitCode, 0);
  const path = join(h.config.instanceRoot, partition);
  await mkdir(join(path, 'var', 'xml_report'), { recursive: true });
  await writeFile(join(path, 'var', 'xml_report', 'bad.xml'), '<consumption><movement/></consumption>');
  const computerReports = join(h.config.instanceRoot, 'var', 'xml_report', COMPUTER_ID);
  await mkdir(computerReports, { recursive: true });
  const daily = usageJournal({
    computerId: COMPUTER_ID,
    now: 1_700_000_000,
    movements: [
      {
        resource: 'service_module/cpu_load_percent',
        reference: COMPUTER_ID,
        quantity: 3,
        price: 0,
        VAT: '',
        category: [],
      },
    ],
  });
  await writeFile(join(computerReports, '2024-01-01.xml'), daily);

  const result = await runReportPass(h.config, { master: h.client, supervisor: h.supervisor });
  assert.equal(result.exitCode, 0);
  assert.equal(result.sent, true);
  assert.deepEqual(result.failedScripts, []);
  const usage = result.usage.find((u) => u.partitionId === partition);
  assert.ok(usage, 'the partition is measured');
  assert.ok(usage.memoryBytes > 1024 * 1024, 'its server uses memory');
  assert.ok(usage.diskBytes > 0);
  assert.ok(usage.cpuSeconds >= 0);

  const xml = result.usageXml ?? '';
  await validate(xml, 'computer_consumption.xsd', h.dir);
  await validate(daily, 'computer_consumption.xsd', h.dir);
  for (const resource of ['cpu_time', 'memory_used', 'disk_used'])
    assert.ok(xml.includes(`<resource>service_module/${resource}</resource>`), resource);
  // The movement of the partition's own report script, its reference set to the partition.
  assert.ok(
    xml.includes(
      `<resource>service_module/requests</resource>\n      <title>Requests</title>\n      <reference>${partition}</reference>\n      <quantity>42.0</quantity>`,
    ),
  );
  assert.deepEqual(
    await readdir(join(path, 'var', 'xml_report')),
    ['bad.xml'],
    'sent files removed, the invalid one left',
  );
  assert.deepEqual(
    result.invalidFiles.map((f) => f.reason),
    ['movement 1: <resource> is missing'],
  );
  assert.deepEqual(
    result.computerReports.map((r) => r.sent),
    [true],
  );
  assert.equal(existsSync(join(computerReports, '2024-01-01.xml')), false);
});

test('report: destroyed instances are destroyed with the function node instance uses', async () => {
  const partition = (await h.client.requestInstance({ title: 'leaving', softwareReleaseUri: metered }))
    .compute_partition_id;
  await runInstancePass(h.config, {
    master: h.client,
    supervisor: h.supervisor,
    onlyPartitions: [partition],
  });
  await h.client.requestInstance({ title: 'leaving', softwareReleaseUri: metered, state: 'destroyed' });
  const result = await runReportPass(h.config, { master: h.client, supervisor: h.supervisor });
  assert.deepEqual(
    result.destroyed.map((i) => [i.partitionId, i.outcome]),
    [[partition, 'destroyed']],
  );
  assert.equal(h.db.partition(partition)?.slap_state, 'free');
  assert.deepEqual(await readdir(join(h.config.instanceRoot, partition)), ['.slapos-resource']);
});

test('partition consumption files: the schema is checked, references replaced', async () => {
  await validate(CONSUMPTION, 'partition_consumption.xsd', h.dir);
  assert.deepEqual(parsePartitionConsumption(CONSUMPTION, 'slappart7'), [
    {
      resource: 'service_module/requests',
      title: 'Requests',
      reference: 'slappart7',
      quantity: 42,
      price: 0,
      VAT: '',
      category: ['unit/piece'],
    },
  ]);
  for (const [text, reason] of [
    ['<nope/>', /root element must be <consumption>/],
    ['<consumption></consumption>', /no <movement>/],
    [
      '<consumption><movement><resource>r</resource><quantity>x</quantity><price>0</price><VAT/></movement></consumption>',
      /<quantity> is not a number/,
    ],
    ['<consumption><movement>', /./],
  ] as const)
    assert.throws(() => parsePartitionConsumption(text, 'slappart0'), reason);
});
