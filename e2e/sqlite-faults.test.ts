/**
 * A master (`slapos proxy start`, a real process) whose SQLite database cannot be written:
 *
 * - The disk full while it runs, simulated with RLIMIT_FSIZE on the process (testing/
 *   file-size-limit.ts: portable, no root, no `mount`): writes are answered 503 with the API error
 *   body (never a 500), reads keep working, one structured line is logged; once space is back the
 *   writes succeed again without a restart, and the database passes `PRAGMA integrity_check` with
 *   every acknowledged write in it (and none of the refused ones).
 * - The database file, or its directory, read-only when it starts: it refuses to start with a clear
 *   error. Permissions bind a user, not root: as root the master runs without CAP_DAC_OVERRIDE here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limitFileSize } from '../src/testing/file-size-limit.ts';
import { legacyPost } from '../src/testing/legacy.ts';
import { apiContentTypeProblem, callApi, formatTestNode, postJson } from '../src/testing/master.ts';
import { startProxyProcess, stopProxyProcess, type ProxyProcess } from '../src/testing/proxy-process.ts';

const SUPPLY = '/slapos.post.v0.software_installation';
const SOFTWARE_LIST = '/slapos.allDocs.v0.compute_node_software_installation_list';

async function withDirectory(work: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-e2e-faults-'));
  try {
    await work(directory);
  } finally {
    await chmod(directory, 0o700);
    await rm(directory, { recursive: true, force: true });
  }
}

function supply(url: string, release: string) {
  return postJson(url, SUPPLY, { computer_guid: 'computer', software_release_uri: release });
}

/** The software releases in a database file, read directly. */
function storedReleases(path: string): { integrity: string; releases: Set<string> } {
  const database = new BetterSqlite3(path, { fileMustExist: true });
  try {
    return {
      integrity: database.pragma('integrity_check', { simple: true }) as string,
      releases: new Set(
        database
          .prepare('SELECT url FROM software_installation')
          .pluck()
          .all()
          .map((url) => String(url)),
      ),
    };
  } finally {
    database.close();
  }
}

test('the disk full while the master writes: 503 with the API error body, logged once, back by itself, nothing lost or corrupt', async () => {
  await withDirectory(async (directory) => {
    const database = join(directory, 'proxy.db');
    const proxy: ProxyProcess = await startProxyProcess(
      ['--port', '0', '--database', database, '--computer-id', 'computer'],
      directory,
    );
    const acknowledged: string[] = [];
    const refused: string[] = [];
    try {
      await formatTestNode(proxy.url, { partitions: 1 });
      // Enough commits for the background checkpointer to be running.
      for (let index = 0; index < 100; index++) {
        const release = `http://sr.invalid/before-${index}.cfg`;
        assert.equal((await supply(proxy.url, release)).status, 200);
        acknowledged.push(release);
      }
      const pid = proxy.child.pid;
      assert.ok(pid !== undefined);
      const restore = limitFileSize(pid, 0);
      try {
        // Concurrent writers, so that failures hit whole commit groups too.
        const answers = await Promise.all(
          Array.from({ length: 20 }, async (_, index) => {
            const release = `http://sr.invalid/full-${index}.cfg`;
            return { release, answer: await supply(proxy.url, release) };
          }),
        );
        for (const { release, answer } of answers) {
          assert.equal(answer.status, 503, answer.text);
          assert.equal(apiContentTypeProblem(answer), undefined);
          assert.deepEqual(Object.keys(answer.body as object).sort(), ['status', 'title', 'type']);
          const body = answer.body as { status: number; type: string; title: string };
          assert.equal(body.status, 503);
          assert.equal(body.type, 'Service Unavailable');
          assert.match(body.title, /^The master's database /);
          assert.doesNotMatch(answer.text, /proxy\.db|SQLITE|\bat /);
          refused.push(release);
        }
        // The legacy SLAP API too: 503 (werkzeug's page), not 500.
        const legacy = await legacyPost(proxy.url, '/supplySupply', {
          url: 'http://sr.invalid/legacy.cfg',
          computer_id: 'computer',
          state: 'available',
        });
        assert.equal(legacy.status, 503, legacy.text);
        assert.doesNotMatch(legacy.text, /proxy\.db|SQLITE|\bat /);
        refused.push('http://sr.invalid/legacy.cfg');
        // Reads are served from the database as it is.
        const list = await callApi(proxy.url, SOFTWARE_LIST, { computer_guid: 'computer' });
        assert.equal(list.status, 200);
      } finally {
        restore();
      }
      // Space is back: the same process writes again.
      for (let index = 0; index < 20; index++) {
        const release = `http://sr.invalid/after-${index}.cfg`;
        const answer = await supply(proxy.url, release);
        assert.equal(answer.status, 200, answer.text);
        acknowledged.push(release);
      }
      const faults = proxy.lines.filter(
        (line) => typeof line.msg === 'string' && line.msg.startsWith('database fault'),
      );
      assert.equal(faults.length, 1, JSON.stringify(faults));
      assert.equal(faults[0]?.level, 50);
      assert.match(String(faults[0]?.fault), /^(disk-full|io-error)$/);
      assert.match(String(faults[0]?.sqlite), /^SQLITE_(FULL|IOERR)/);
      assert.ok(
        proxy.lines.some((line) => line.msg === 'database works again'),
        'the recovery is logged',
      );
      assert.ok(
        !proxy.lines.some(
          (line) => typeof line.msg === 'string' && line.msg.startsWith('background checkpoints stopped'),
        ),
        'the background checkpointer lives on',
      );
    } finally {
      assert.equal(await stopProxyProcess(proxy), 0);
    }
    const stored = storedReleases(database);
    assert.equal(stored.integrity, 'ok');
    assert.deepEqual(
      acknowledged.filter((release) => !stored.releases.has(release)),
      [],
    );
    assert.deepEqual(
      refused.filter((release) => stored.releases.has(release)),
      [],
    );
  });
});

/**
 * Root ignores file permissions (CAP_DAC_OVERRIDE): when the tests run as root, the master runs as
 * root without that capability (nor CAP_DAC_READ_SEARCH), so that permissions bind it as any user.
 */
const withoutOverride =
  process.getuid?.() === 0
    ? { wrapper: ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'] }
    : {};

test('a read-only database file, or directory, at start: the master refuses to start and says why', async () => {
  await withDirectory(async (directory) => {
    const data = join(directory, 'data');
    const database = join(data, 'proxy.db');
    await mkdir(data, { mode: 0o700 });
    const args = ['--port', '0', '--database', database, '--computer-id', 'computer'];
    const first = await startProxyProcess(args, data, withoutOverride);
    await formatTestNode(first.url, { partitions: 1 });
    assert.equal((await supply(first.url, 'http://sr.invalid/kept.cfg')).status, 200);
    assert.equal(await stopProxyProcess(first), 0);

    for (const [what, fileMode, directoryMode] of [
      ['file', 0o400, 0o700],
      ['directory', 0o600, 0o500],
    ] as const) {
      await chmod(database, fileMode);
      await chmod(data, directoryMode);
      // A master that starts anyway is stopped, and the test fails.
      const refusal = await startProxyProcess(args, data, withoutOverride).then(
        async (started) => {
          await stopProxyProcess(started);
          return undefined;
        },
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      assert.ok(refusal, `a read-only ${what}: the master started`);
      assert.match(refusal.message, /exited with 1 before listening/);
      assert.match(refusal.message, new RegExp(`read-only ${what}`));
      assert.doesNotMatch(refusal.message, /\bat .*\.js:\d+/);
      await chmod(data, 0o700);
      await chmod(database, 0o600);
    }
    // Writable again: it starts, with what it had.
    const again = await startProxyProcess(args, data, withoutOverride);
    try {
      const list = await callApi(again.url, SOFTWARE_LIST, { computer_guid: 'computer' });
      assert.deepEqual(
        (list.body as { result_list: { software_release_uri: string }[] }).result_list.map(
          (entry) => entry.software_release_uri,
        ),
        ['http://sr.invalid/kept.cfg'],
      );
    } finally {
      assert.equal(await stopProxyProcess(again), 0);
    }
  });
});
