/**
 * The panel's node page of a node with many partitions (issue 10: 200 partitions under 50 ms p99 on
 * the server). A proxy-mode master (SQLite) with one node of `--partitions` partitions, three
 * quarters of them holding an instance, ten software releases (one failed with a 2,000-line build
 * log) and a day of usage reports (every 15 minutes, CPU, memory and disk of 50 partitions).
 * Measured: the node page and the node list over HTTP on loopback (one keep-alive connection,
 * sequential GETs: the server's whole work for one page), and their size.
 *
 *   npm run bench -- panel-node [--partitions 200] [--rounds 300]
 */
import { parseArgs } from 'node:util';
import { pageTimer } from './_page-timing.ts';
import { LOCAL_CALLER } from '../src/master/services/index.ts';
import { startTestMaster } from '../src/testing/master.ts';

const { values } = parseArgs({
  options: { partitions: { type: 'string', default: '200' }, rounds: { type: 'string', default: '300' } },
});
const partitionCount = Number(values.partitions);
const rounds = Number(values.rounds);
const RELEASE = 'https://lab.example.com/software/hello/software.cfg';

function journalDate(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} at ${iso.slice(11, 19)}`;
}

const master = await startTestMaster();
const services = master.master.services;
const caller = LOCAL_CALLER;
try {
  const partitions = Array.from({ length: partitionCount }, (_, index) => ({
    reference: `slappart${index}`,
    addresses: [
      { networkInterface: 'lo', address: `10.0.${Math.floor(index / 250)}.${index % 250}`, netmask: null },
    ],
  }));
  await services.formatComputeNode({
    caller,
    format: { computeNodeId: 'computer', address: null, netmask: null, partitions },
  });
  for (let release = 0; release < 10; release++) {
    const url = release === 0 ? RELEASE : `https://lab.example.com/software/r${release}/software.cfg`;
    await services.supplySoftware({ caller, computeNodeId: 'computer', url, state: 'available' });
    if (release === 9)
      await services.reportSoftwareInstallationError({
        caller,
        computeNodeId: 'computer',
        url,
        message: Array.from(
          { length: 2000 },
          (_, line) => `build step ${line}: compiling something long`,
        ).join('\n'),
      });
    else
      await services.reportSoftwareInstallationState({
        caller,
        computeNodeId: 'computer',
        url,
        reportedState: 'available',
      });
  }
  for (let index = 0; index < Math.floor((partitionCount * 3) / 4); index++)
    await services.requestInstance({
      caller,
      title: `tree-${index}`,
      softwareRelease: RELEASE,
      softwareType: 'default',
      parameters: {},
      shared: false,
      state: 'started',
      sla: {},
    });
  const now = Math.floor(Date.now() / 1000) - 60;
  for (let interval = 0; interval < 96; interval++) {
    const stop = now - interval * 900;
    const movements = Array.from({ length: 50 }, (_, index) =>
      ['cpu_time', 'memory_used', 'disk_used']
        .map(
          (resource) =>
            `<movement><resource>service_module/${resource}</resource><reference>slappart${index}</reference>` +
            `<quantity>${(index + interval) % 17}.5</quantity><price>0.0</price><VAT/></movement>`,
        )
        .join(''),
    ).join('');
    await services.reportComputeNodeUsage({
      caller,
      computeNodeId: 'computer',
      usageXml:
        '<journal><transaction type="Sale Packing List"><title>Resource consumptions</title>' +
        `<start_date>${journalDate(stop - 900)}</start_date><stop_date>${journalDate(stop)}</stop_date>` +
        `<reference>computer</reference>${movements}</transaction></journal>`,
    });
  }

  const { measure, close: closeTimer } = pageTimer(master.url, { rounds, labelWidth: 28 });
  process.stdout.write(
    `${partitionCount} partitions, 10 software releases, 96 usage intervals; ${rounds} GETs each\n`,
  );
  await measure('node page', '/panel/nodes/computer');
  await measure('node list', '/panel/nodes');
  await closeTimer();
} finally {
  await master.close();
}
