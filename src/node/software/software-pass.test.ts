import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { createLogger } from '../../lib/logger.ts';
import type { NodeProgressEvent } from '../pass.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
} from '../../testing/node-passes.ts';
import { runInstancePass } from '../instance/instance-pass.ts';
import { runReportPass } from '../report/report-pass.ts';
import { changedSource, readSources } from './local-sources.ts';
import { BUILD_LOG_FILE, COMPLETED_FILE, runSoftwarePass, softwareDirectory } from './software-pass.ts';

const BROKEN_SOFTWARE = [
  '[buildout]',
  'parts = compile',
  '',
  '[compile]',
  'recipe = plone.recipe.command',
  'command = echo compiling the thing; echo "cc: error: no such file" >&2; exit 3',
  'stop-on-error = true',
  '',
].join('\n');

test('software: installed and reported available, a re-run does nothing; destroyed is removed', async () => {
  const h = await startNodeHarness({ supervisor: false });
  try {
    const url = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    const events: NodeProgressEvent[] = [];
    const first = await runSoftwarePass(h.config, { master: h.client, onProgress: (e) => events.push(e) });
    const directory = softwareDirectory(h.config.softwareRoot, url);
    assert.deepEqual(
      first.items.map((i) => [i.url, i.outcome, i.directory]),
      [[url, 'installed', directory]],
    );
    assert.equal(first.exitCode, 0);
    assert.equal(h.db.software(url)?.reported_state, 'available');
    assert.ok(existsSync(join(directory, COMPLETED_FILE)));
    assert.ok(existsSync(join(directory, 'instance.cfg')), 'the profile rendered instance.cfg');
    assert.match(
      await readFile(join(directory, 'buildout.cfg'), 'utf8'),
      new RegExp(`^\\[buildout\\]\nextends = ${url}\n`),
    );
    assert.deepEqual(
      events.filter((e) => e.type === 'software').map((e) => e.type === 'software' && e.action),
      ['building', 'available'],
    );
    assert.ok(
      events.some((e) => e.type === 'buildout' && e.event.type === 'part' && e.event.action === 'installed'),
    );

    // Nothing to do: no build, no report (the master's record is untouched).
    const before = h.db.software(url);
    const second = await runSoftwarePass(h.config, { master: h.client });
    assert.deepEqual(
      second.items.map((i) => i.outcome),
      ['up-to-date'],
    );
    assert.deepEqual(h.db.software(url), before);

    // --force builds again (a no-op for the engine) and reports again.
    const forced = await runSoftwarePass(h.config, { master: h.client, force: true });
    assert.deepEqual(
      forced.items.map((i) => i.outcome),
      ['installed'],
    );

    // --only-sr by md5 digest: other releases are not touched.
    const other = await writeSoftwareRelease(h.dir, 'other', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: other, computerGuid: COMPUTER_ID });
    const only = await runSoftwarePass(h.config, {
      master: h.client,
      onlySoftware: [softwareDirectory('', other)],
    });
    assert.deepEqual(
      only.items.map((i) => [i.url, i.outcome]),
      [[other, 'installed']],
    );

    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID, state: 'destroyed' });
    const removed = await runSoftwarePass(h.config, { master: h.client });
    assert.deepEqual(
      removed.items.map((i) => [i.url, i.outcome]),
      [
        [url, 'destroyed'],
        [other, 'up-to-date'],
      ],
    );
    assert.equal(existsSync(directory), false, 'the software directory is removed');
    assert.equal(h.db.software(url), undefined, 'reported destroyed: the master forgets the installation');
  } finally {
    await h.close();
  }
});

test('software: a failing build is reported with the log tail, and is not marked installed', async () => {
  const h = await startNodeHarness({ supervisor: false });
  try {
    const good = await writeSoftwareRelease(h.dir, 'good', { instance: helloInstance() });
    const broken = await writeSoftwareRelease(h.dir, 'broken', { instance: '', software: BROKEN_SOFTWARE });
    await h.client.supply({ softwareReleaseUri: broken, computerGuid: COMPUTER_ID });
    await h.client.supply({ softwareReleaseUri: good, computerGuid: COMPUTER_ID });
    const result = await runSoftwarePass(h.config, { master: h.client });
    assert.equal(result.exitCode, 1);
    const [failed, installed] = result.items;
    assert.equal(failed?.outcome, 'failed');
    assert.equal(installed?.outcome, 'installed', 'one failure does not stop the others');
    assert.equal(failed?.error?.code, 'SLAP_ERR_RECIPE_FAILED');
    const directory = softwareDirectory(h.config.softwareRoot, broken);
    assert.equal(existsSync(join(directory, COMPLETED_FILE)), false);
    const row = h.db.software(broken);
    assert.notEqual(row?.reported_state, 'available');
    assert.match(row?.error_message ?? '', /compile/);
    assert.match(
      row?.error_message ?? '',
      /compile\| compiling the thing/,
      'the build output is in the report',
    );
    assert.match(row?.error_message ?? '', /cc: error: no such file/);
    assert.match(await readFile(join(directory, BUILD_LOG_FILE), 'utf8'), /compiling the thing/);

    // Fixed, it is built on the next pass (no .completed: retried).
    await writeFile(broken, BROKEN_SOFTWARE.replace('exit 3', 'true'));
    const retried = await runSoftwarePass(h.config, { master: h.client });
    assert.deepEqual(
      retried.items.map((i) => i.outcome),
      ['installed', 'up-to-date'],
    );
    assert.equal(h.db.software(broken)?.reported_state, 'available');
  } finally {
    await h.close();
  }
});

test('software: a URL naming a file that is not a profile never puts its content in errors or logs', async () => {
  const h = await startNodeHarness({ supervisor: false });
  try {
    // Secret-looking lines of every shape: shadow entries, `key: value`, a header-like line, options.
    const secretFile = join(h.dir, 'shadow');
    await writeFile(
      secretFile,
      [
        'root:$6$SECRET1salt$SECRET1hash:19000:0:99999:7:::',
        'SECRET2-user: SECRET2-password',
        '[SECRET3 not a header',
        'password = SECRET4',
        '  SECRET5 indented',
        '',
      ].join('\n'),
    );
    const url = pathToFileURL(secretFile).href;
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    const logFile = join(h.dir, 'node.log');
    const events: NodeProgressEvent[] = [];
    const result = await runSoftwarePass(h.config, {
      master: h.client,
      logger: createLogger({ level: 'debug', destination: logFile }),
      onProgress: (e) => events.push(e),
    });
    const error = result.items[0]?.error;
    assert.equal(error?.code, 'SLAP_ERR_PROFILE_SYNTAX');
    assert.match(error?.message ?? '', /shadow:1: /, 'the error names the file and line');
    const directory = softwareDirectory(h.config.softwareRoot, url);
    const everything = [
      JSON.stringify(error),
      JSON.stringify(events),
      await readFile(logFile, 'utf8'),
      await readFile(join(directory, BUILD_LOG_FILE), 'utf8'),
      h.db.software(url)?.error_message ?? '',
    ];
    assert.match(everything[4] ?? '', /shadow:1: /, 'the master got the error');
    for (const text of everything) assert.doesNotMatch(text, /SECRET/);
  } finally {
    await h.close();
  }
});

test('software: a local release records the files its build read; an edit is seen, a touch is not', async () => {
  const h = await startNodeHarness({ supervisor: false });
  try {
    const url = await writeSoftwareRelease(h.dir, 'local', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    await runSoftwarePass(h.config, { master: h.client });
    const directory = softwareDirectory(h.config.softwareRoot, url);
    const sources = await readSources(directory);
    assert.ok(sources);
    const template = join(dirname(url), 'instance.cfg.in');
    assert.deepEqual(
      sources.map((source) => source.path),
      [template, url].sort(),
      'the profile and its template, not the generated buildout.cfg of the software directory',
    );
    assert.equal(await changedSource(sources), undefined);
    const now = new Date(Date.now() + 5000);
    await utimes(template, now, now);
    assert.equal(await changedSource(sources), undefined, 'touched without a change');
    await writeFile(template, `${await readFile(template, 'utf8')}\n# edited\n`);
    assert.equal(await changedSource(sources), template);
  } finally {
    await h.close();
  }
});

test('software: removing a release still used by an instance keeps it until the instance is destroyed', async () => {
  const h = await startNodeHarness();
  try {
    const url = await writeSoftwareRelease(h.dir, 'used', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    await runSoftwarePass(h.config, { master: h.client });
    await h.client.requestInstance({ title: 'user', softwareReleaseUri: url });
    const deploy = await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor });
    assert.deepEqual(
      deploy.items.filter((item) => item.instanceGuid !== undefined).map((item) => item.outcome),
      ['started'],
    );
    const directory = softwareDirectory(h.config.softwareRoot, url);

    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID, state: 'destroyed' });
    const events: NodeProgressEvent[] = [];
    const kept = await runSoftwarePass(h.config, { master: h.client, onProgress: (e) => events.push(e) });
    assert.deepEqual(
      kept.items.map((item) => [item.outcome, item.usedBy]),
      [['kept', ['slappart0']]],
    );
    assert.equal(kept.exitCode, 0);
    assert.ok(existsSync(join(directory, COMPLETED_FILE)), 'still installed');
    assert.equal(h.db.software(url)?.requested_state, 'destroyed', 'not reported destroyed');
    assert.ok(events.some((e) => e.type === 'software' && e.action === 'kept' && e.message === 'slappart0'));

    await h.client.requestInstance({ title: 'user', softwareReleaseUri: url, state: 'destroyed' });
    await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor });
    await runReportPass(h.config, { master: h.client, supervisor: h.supervisor });
    const removed = await runSoftwarePass(h.config, { master: h.client });
    assert.deepEqual(
      removed.items.map((item) => item.outcome),
      ['destroyed'],
    );
    assert.ok(!existsSync(directory));
  } finally {
    await h.close();
  }
});
