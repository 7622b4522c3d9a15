/**
 * `slapos node report`'s usage journals over time, with a fake /proc, an injected clock and a
 * scripted master: per-interval CPU, intervals that follow each other, journals sealed in one chain
 * with the node's key, kept and sent again as they are while the master is down, dropped when it
 * refuses them.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActionResult } from '../../client/types.ts';
import { fixedClock } from '../../core/clock.ts';
import { SlapError, type ErrorCode } from '../../core/errors.ts';
import { parseUsageJournal } from '../../core/usage-journal.ts';
import { readUsageSeal, usageDocumentHash, verifyUsageSeal } from '../../core/usage-signature.ts';
import { removeFakeProcess, writeFakeBoot, writeFakeProcess } from '../../testing/fake-proc.ts';
import { makeTempDir, writeSandboxCfg } from '../../testing/node.ts';
import { selfSignedCertificate } from '../../testing/self-signed.ts';
import { fixedStateSource } from '../agent/snapshot-source.ts';
import { loadNodeConfig, type NodeConfig } from '../config.ts';
import type { NodeMaster } from '../pass.ts';
import type { ProcessInfo, SupervisorControl } from '../supervisor/types.ts';
import { journalStatePath, readJournalState } from './journal-state.ts';
import { runReportPass, type ReportPassResult } from './report-pass.ts';

const COMPUTER = 'COMP-USAGE';
const T0 = Date.UTC(2026, 11, 7, 10, 0, 0) / 1000;

let dir: string;
let proc: string;
let sealed: NodeConfig;
let unsealed: NodeConfig;
const clock = fixedClock(T0);
/** Outcomes of the master's next calls (undefined: accepted). */
const outcomes: (ErrorCode | undefined)[] = [];
const received: string[] = [];

const master = {
  reportComputeNodeUsage(input: { computerGuid: string; usageXml: string }): Promise<ActionResult> {
    assert.equal(input.computerGuid, COMPUTER);
    received.push(input.usageXml);
    const outcome = outcomes.shift();
    if (outcome === undefined) return Promise.resolve({ type: 'success' } as ActionResult);
    return Promise.reject(new SlapError(outcome, `answered ${outcome}`));
  },
} as Pick<NodeMaster, 'reportComputeNodeUsage'> as NodeMaster;

function program(group: string, pid: number): ProcessInfo {
  return {
    group,
    name: 'server',
    fullName: `${group}:server`,
    state: 'RUNNING',
    description: '',
    pid,
    startedAt: null,
    stoppedAt: null,
    exitCode: null,
    exitSignal: null,
    spawnError: null,
    adopted: false,
    logFile: '',
    configHash: '',
  };
}

// Only status() is used by a report pass without destroyed partitions.
const supervisor = {
  status: () =>
    Promise.resolve({
      pid: 1,
      state: 'RUNNING',
      startedAt: 0,
      memory: { rss: 0, heapTotal: 0, heapUsed: 0, external: 0 },
      processes: [program('slappart0', 100)],
    }),
} as unknown as SupervisorControl;

const source = fixedStateSource({
  partitions: [
    {
      partitionId: 'slappart0',
      instanceGuid: 'SOFTINST-1',
      title: 'metered',
      requestedState: 'started',
      softwareReleaseUrl: 'https://example.invalid/software.cfg',
      softwareType: 'default',
      marker: '1',
    },
  ],
});

function report(config: NodeConfig): Promise<ReportPassResult> {
  return runReportPass(config, { master, supervisor, source, clock, procRoot: proc });
}

function cpuTime(document: string): number | undefined {
  return parseUsageJournal(document).find((m) => m.resource === 'service_module/cpu_time')?.quantity;
}

function interval(document: string): [number, number] | undefined {
  const movement = parseUsageJournal(document)[0];
  return movement && [movement.start, movement.stop];
}

before(async () => {
  dir = await makeTempDir('slapos-usage-journals-');
  const { keyPem, certificatePem } = await selfSignedCertificate(COMPUTER);
  await writeFile(join(dir, 'node.key'), keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'node.crt'), certificatePem);
  const load = async (name: string, extra: Record<string, string>): Promise<NodeConfig> => {
    await mkdir(join(dir, name), { recursive: true });
    const cfg = await writeSandboxCfg(join(dir, name), { slapos: { computer_id: COMPUTER, ...extra } });
    return loadNodeConfig({ cfg, isRoot: false });
  };
  sealed = await load('sealed', {
    key_file: join(dir, 'node.key'),
    cert_file: join(dir, 'node.crt'),
    certificate_repository_path: join(dir, 'sealed', 'certs'),
  });
  unsealed = await load('unsealed', {});
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  proc = join(dir, `proc-${received.length}-${Math.random().toString(36).slice(2)}`);
  await writeFakeBoot(proc, { id: 'boot-1', time: T0 - 86_400 });
  await writeFakeProcess(proc, { pid: 100, startTime: 5000, utime: 1000, stime: 500, rssKb: 10_240 });
  for (const config of [sealed, unsealed]) {
    await rm(join(config.instanceRoot), { recursive: true, force: true });
    await mkdir(join(config.instanceRoot, 'slappart0'), { recursive: true });
  }
  clock.set(T0);
  outcomes.length = 0;
  received.length = 0;
});

test('per interval: the first journal is an instant, the next starts where it stopped, with the CPU used since', async () => {
  const first = await report(sealed);
  assert.equal(first.exitCode, 0);
  assert.equal(first.sent, true);
  const firstXml = first.usageXml ?? '';
  assert.match(firstXml, /<start_date><\/start_date>/);
  assert.deepEqual(interval(firstXml), [T0, T0]);
  assert.equal(cpuTime(firstXml), 15, 'every process counts from 0 at the first measure');

  await writeFakeProcess(proc, { pid: 100, startTime: 5000, utime: 1300, stime: 520, rssKb: 20_480 });
  clock.advance(3600.7);
  const second = await report(sealed);
  const secondXml = second.usageXml ?? '';
  assert.deepEqual(interval(secondXml), [T0, T0 + 3600]);
  assert.equal(cpuTime(secondXml), 3.2);
  assert.equal(
    parseUsageJournal(secondXml).find((m) => m.resource === 'service_module/memory_used')?.quantity,
    20,
  );

  // The program restarted (same pid, another start time): it counts from 0, never negative.
  await writeFakeProcess(proc, { pid: 100, startTime: 9000, utime: 40, stime: 2, rssKb: 1024 });
  clock.advance(600);
  const third = await report(sealed);
  assert.deepEqual(interval(third.usageXml ?? ''), [T0 + 3600, T0 + 4200]);
  assert.equal(cpuTime(third.usageXml ?? ''), 0.42);

  // Sealed, chained, and exactly what the master received.
  assert.deepEqual(received, [firstXml, secondXml, third.usageXml]);
  let previous = '';
  for (const [index, document] of received.entries()) {
    const seal = readUsageSeal(document);
    assert.ok(seal && verifyUsageSeal(seal), `journal ${index + 1} verifies`);
    assert.deepEqual([seal.sequence, seal.previous], [index + 1, previous]);
    previous = usageDocumentHash(document);
  }
  assert.deepEqual(
    third.journals.map((j) => [j.sequence, j.outcome]),
    [[3, 'sent']],
  );
});

test('a journal the master cannot take is sent again, as it is, before a new one is built; the chain has no gap', async () => {
  await report(sealed);
  const consumption = join(sealed.instanceRoot, 'slappart0', 'var', 'xml_report');
  await mkdir(consumption, { recursive: true });
  const requests =
    '<consumption><movement><resource>service_module/requests</resource><reference>x</reference>' +
    '<quantity>42</quantity><price>0</price><VAT/></movement></consumption>';
  await writeFile(join(consumption, 'a.xml'), requests);

  clock.advance(3600);
  outcomes.push('SLAP_ERR_UNAVAILABLE');
  const down = await report(sealed);
  assert.equal(down.exitCode, 1);
  assert.equal(down.sent, false);
  assert.equal(down.sendError?.code, 'SLAP_ERR_UNAVAILABLE');
  const kept = down.usageXml ?? '';
  assert.match(kept, /service_module\/requests/, 'the consumption file went into the journal');
  assert.deepEqual(await readdir(consumption), [], 'and was removed once the journal was kept');

  await writeFile(join(consumption, 'b.xml'), requests);
  clock.advance(3600);
  outcomes.push('SLAP_ERR_TIMEOUT');
  const stillDown = await report(sealed);
  assert.equal(stillDown.usageXml, undefined, 'nothing new is built while a journal waits');
  assert.deepEqual(stillDown.usage, []);
  assert.deepEqual(await readdir(consumption), ['b.xml'], 'a consumption file waits too');
  assert.equal(received.at(-1), kept, 'sent again exactly as built');

  clock.advance(3600);
  const back = await report(sealed);
  assert.equal(back.exitCode, 0);
  assert.deepEqual(
    back.journals.map((j) => [j.sequence, j.outcome]),
    [
      [2, 'sent'],
      [3, 'sent'],
    ],
  );
  assert.deepEqual(received.slice(-2), [kept, back.usageXml]);
  assert.deepEqual(interval(back.usageXml ?? ''), [T0 + 3600, T0 + 3 * 3600], 'no interval lost');
  assert.equal(readUsageSeal(back.usageXml ?? '')?.previous, usageDocumentHash(kept));
  assert.deepEqual((await readJournalState(sealed.instanceRoot))?.pending, []);
});

test('a journal the master refuses is dropped; the chain goes on from it', async () => {
  await report(sealed);
  clock.advance(60);
  outcomes.push('SLAP_ERR_USAGE_REPORT_INVALID');
  const refused = await report(sealed);
  assert.equal(refused.exitCode, 1);
  assert.equal(refused.sendError?.code, 'SLAP_ERR_USAGE_REPORT_INVALID');
  assert.deepEqual(
    refused.journals.map((j) => j.outcome),
    ['refused'],
  );
  clock.advance(60);
  const next = await report(sealed);
  assert.equal(next.exitCode, 0);
  assert.deepEqual(readUsageSeal(next.usageXml ?? '')?.sequence, 3);
  assert.equal(readUsageSeal(next.usageXml ?? '')?.previous, usageDocumentHash(refused.usageXml ?? ''));
  assert.equal(received.length, 3, 'the refused journal is not sent again');
});

test('after a reboot the interval starts at the boot and the counters start again', async () => {
  await report(sealed);
  clock.advance(7200);
  await writeFakeBoot(proc, { id: 'boot-2', time: T0 + 3600 });
  // Same pid and start time numbers, another boot: another process.
  await writeFakeProcess(proc, { pid: 100, startTime: 5000, utime: 200, stime: 0 });
  const rebooted = await report(sealed);
  assert.deepEqual(interval(rebooted.usageXml ?? ''), [T0 + 3600, T0 + 7200]);
  assert.equal(cpuTime(rebooted.usageXml ?? ''), 2);
});

test('a process that ended after being waited for is not counted twice', async () => {
  await writeFakeProcess(proc, { pid: 101, ppid: 100, pgrp: 100, startTime: 6000, utime: 300 });
  const first = await report(sealed);
  assert.equal(cpuTime(first.usageXml ?? ''), 18);
  // The child used 1 s more, ended, and the leader waited for it (its children's time grew by 4 s).
  await removeFakeProcess(proc, 101);
  await writeFakeProcess(proc, { pid: 100, startTime: 5000, utime: 1000, stime: 500, cutime: 400 });
  clock.advance(60);
  const second = await report(sealed);
  assert.equal(cpuTime(second.usageXml ?? ''), 1);
});

test('without a certificate the journals are per interval too, and not sealed', async () => {
  const first = await report(unsealed);
  clock.advance(60);
  const second = await report(unsealed);
  assert.deepEqual(interval(second.usageXml ?? ''), [T0, T0 + 60]);
  for (const document of [first.usageXml ?? '', second.usageXml ?? '']) {
    assert.equal(readUsageSeal(document), undefined);
    assert.doesNotMatch(document, /slapos-usage/);
  }
  const state = await readJournalState(unsealed.instanceRoot);
  assert.deepEqual([state?.sequence, state?.lastStop], [0, T0 + 60]);
  assert.ok(journalStatePath(unsealed.instanceRoot).startsWith(unsealed.instanceRoot));
});

test('a partition cannot get the journal over the size the master takes: a file too big is left invalid', async () => {
  const consumption = join(sealed.instanceRoot, 'slappart0', 'var', 'xml_report');
  await mkdir(consumption, { recursive: true });
  const movement =
    '<movement><resource>service_module/requests</resource><quantity>1</quantity><price>0</price><VAT/></movement>';
  await writeFile(join(consumption, 'huge.xml'), `<consumption>${movement.repeat(50_001)}</consumption>`);
  const result = await report(sealed);
  assert.equal(result.sent, true);
  assert.deepEqual(
    result.invalidFiles.map((file) => file.reason),
    ['more than 50000 movements in one file'],
  );
  assert.equal(parseUsageJournal(result.usageXml ?? '').length, 3);
});

test('a usage state that cannot be read fails the usage report, not the pass, and is left as it is', async () => {
  await mkdir(join(sealed.instanceRoot, 'var', 'usage-journal'), { recursive: true });
  await writeFile(journalStatePath(sealed.instanceRoot), '{"computerId": ');
  const result = await report(sealed);
  assert.equal(result.exitCode, 1);
  assert.equal(result.sendError?.code, 'SLAP_ERR_USAGE_STATE_INVALID');
  assert.deepEqual(received, []);
  await assert.rejects(readJournalState(sealed.instanceRoot), /is not JSON/);
});
