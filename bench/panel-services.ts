/**
 * The panel's services page of a user with many instance trees (issue 10: 1,000 trees under 50 ms
 * p99 on the server). A proxy-mode master (SQLite) holds `--trees` root instances, each with one
 * child, on a node of as many partitions, their software release available, half of them started
 * and one promise result list per instance (a tenth failing). Measured: the page over HTTP on
 * loopback (one keep-alive connection, sequential GETs: the server's whole work for one page,
 * query, statuses and render), first page and a filtered one, and its size.
 *
 *   npm run bench -- panel-services [--trees 1000] [--rounds 300]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pageTimer, quantiles } from './_page-timing.ts';
import { LOCAL_CALLER } from '../src/master/services/index.ts';
import { startTestMaster } from '../src/testing/master.ts';

const { values } = parseArgs({
  options: { trees: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '300' } },
});
const trees = Number(values.trees);
const rounds = Number(values.rounds);
const RELEASE = 'https://lab.example.com/software/hello/software.cfg';

const master = await startTestMaster();
const services = master.master.services;
const caller = LOCAL_CALLER;
try {
  const partitions = Array.from({ length: trees * 2 }, (_, index) => ({
    reference: `slappart${index}`,
    addresses: [
      { networkInterface: 'lo', address: `10.0.${Math.floor(index / 250)}.${index % 250}`, netmask: null },
    ],
  }));
  await services.formatComputeNode({
    caller,
    format: { computeNodeId: 'computer', address: null, netmask: null, partitions },
  });
  await services.supplySoftware({ caller, computeNodeId: 'computer', url: RELEASE, state: 'available' });
  await services.reportSoftwareInstallationState({
    caller,
    computeNodeId: 'computer',
    url: RELEASE,
    reportedState: 'available',
  });
  const date = new Date().toISOString();
  for (let index = 0; index < trees; index++) {
    const request = {
      caller,
      softwareRelease: RELEASE,
      softwareType: 'default',
      parameters: { name: `tree ${index}`, port: String(8000 + index) },
      shared: false,
      state: 'started' as const,
      sla: {},
    };
    const root = await services.requestInstance({ ...request, title: `tree-${index}` });
    const child = await services.requestInstance({
      ...request,
      title: `tree-${index}-db`,
      requester: { computeNodeId: root.computeNodeId, partitionId: root.partitionId },
    });
    for (const instance of [root, child]) {
      if (index % 2 === 0)
        await services.reportInstanceState({
          caller,
          instanceGuid: instance.instanceGuid,
          reportedState: 'started',
        });
      await services.reportPromiseResults({
        caller,
        instanceGuid: instance.instanceGuid,
        results: [
          { name: 'check-port', status: index % 10 === 0 ? 'fail' : 'pass', message: 'listening', date },
          { name: 'check-url', status: 'pass', message: 'HTTP 200', date },
        ],
      });
    }
  }

  const { measure, close: closeTimer } = pageTimer(master.url, { rounds, labelWidth: 40 });
  process.stdout.write(`${trees} instance trees (${trees * 2} instances), ${rounds} GETs each\n`);
  await measure('services page (first 50)', '/panel/services');
  await measure('services page, filtered (title, status)', '/panel/services?q=tree-9&status=promise-failing');
  await measure('instance tree page', '/panel/services/tree-7');
  await closeTimer();
  const listing: number[] = [];
  for (let round = 0; round < rounds + 20; round++) {
    const started = performance.now();
    await services.listInstanceTreeSummaries({ caller });
    if (round >= 20) listing.push(performance.now() - started);
  }
  process.stdout.write(`${'listInstanceTreeSummaries (in process)'.padEnd(40)} wall ${quantiles(listing)}\n`);
} finally {
  await master.close();
}
