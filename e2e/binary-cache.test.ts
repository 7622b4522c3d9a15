/**
 * Two compute nodes sharing one binary cache server, all real processes on 127.0.0.1: a master
 * (`slapos proxy start`), the cache (`slapos cache start`), and each node's `slapos node format` and
 * `slapos node software`. Node 1 builds a release (a slow build step that leaves a mark outside the
 * software directory) and uploads it with a signed entry; node 2, with the same software_root path
 * (node.md §3.5: entries do not record it, so nodes sharing a cache must share it), installs it from
 * the cache: its build step never runs, the files and their modes are node 1's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createMasterClient } from '../src/client/master-api.ts';
import { BUILD_LOG_FILE, COMPLETED_FILE, softwareDirectory } from '../src/node/software/software-pass.ts';
import { SOURCES_FILE } from '../src/node/software/local-sources.ts';
import { createSigningIdentity } from '../src/standalone/cache-signature.ts';
import { startCacheProcess, stopCacheProcess } from '../src/testing/cache-process.ts';
import { renderCfg } from '../src/testing/node.ts';
import { startProxyProcess, stopProxyProcess } from '../src/testing/proxy-process.ts';
import { runSlaposProcess, shortTempDir } from '../src/testing/standalone.ts';

/** A release whose build takes a while and marks each run of its build step in `runsFile`. */
function slowRelease(runsFile: string): string {
  return [
    '[buildout]',
    'parts = tool',
    '',
    '[tool]',
    'recipe = plone.recipe.command',
    'stop-on-error = true',
    'command =',
    `  echo run >> ${runsFile}`,
    '  sleep 2',
    '  mkdir -p ${buildout:directory}/bin ${buildout:directory}/share/private ${buildout:directory}/lib',
    "  printf '#!/bin/sh\\necho built\\n' > ${buildout:directory}/bin/tool",
    '  chmod 750 ${buildout:directory}/bin/tool',
    '  head -c 200000 /dev/urandom > ${buildout:directory}/lib/blob.bin',
    '  date +%s%N > ${buildout:directory}/share/build-stamp',
    '  echo secret > ${buildout:directory}/share/private/key',
    '  chmod 600 ${buildout:directory}/share/private/key',
    '  chmod 700 ${buildout:directory}/share/private',
    '  ln -s ../bin/tool ${buildout:directory}/share/tool-link',
    '',
  ].join('\n');
}

/** What each node writes for itself in a software directory (its run's markers, its local sources). */
const NODE_MARKERS = [COMPLETED_FILE, SOURCES_FILE];

interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  content: string;
}

/** Every entry under `root` (but the node's own markers): type, mode, content digest or link target. */
async function tree(root: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      if (dir === root && (NODE_MARKERS.includes(name) || name.startsWith(BUILD_LOG_FILE))) continue;
      const info = await lstat(path);
      const rel = relative(root, path);
      if (info.isSymbolicLink())
        entries.push({ path: rel, type: 'symlink', mode: 0, content: await readlink(path) });
      else if (info.isDirectory()) {
        entries.push({ path: rel, type: 'dir', mode: info.mode & 0o7777, content: '' });
        await walk(path);
      } else
        entries.push({
          path: rel,
          type: 'file',
          mode: info.mode & 0o7777,
          content: createHash('sha256')
            .update(await readFile(path))
            .digest('hex'),
        });
    }
  };
  await walk(root);
  return entries;
}

test('node 2 installs from the shared cache what node 1 built and uploaded, without building', async (t) => {
  const dir = await shortTempDir('bc-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cache = await startCacheProcess(['--dir', join(dir, 'cache')], dir);
  t.after(async () => {
    await stopCacheProcess(cache);
  });
  const master = await startProxyProcess(['--port', '0', '--database', join(dir, 'proxy.db')], dir);
  t.after(async () => {
    await stopProxyProcess(master);
  });
  const client = createMasterClient({ api: 'json', masterUrl: master.url });
  t.after(() => client.close());

  // The nodes' signing identity (one key for both here; the certificate is what they trust).
  const signer = await createSigningIdentity('e2e builders');
  const keyFile = join(dir, 'signer.key');
  await writeFile(keyFile, signer.keyPem, { mode: 0o600 });
  const runsFile = join(dir, 'build-runs');
  await mkdir(join(dir, 'release'));
  const url = join(dir, 'release', 'software.cfg');
  await writeFile(url, slowRelease(runsFile));

  const softwareRoot = join(dir, 'soft');
  const nodeCfg = async (n: number): Promise<string> => {
    const file = join(dir, `node${n}.cfg`);
    await writeFile(
      file,
      renderCfg({
        slapos: {
          sandbox: true,
          computer_id: `COMP-${n}`,
          master_url: `${master.url}/`,
          software_root: softwareRoot,
          instance_root: join(dir, `inst${n}`),
          software_min_free_space: '0',
          instance_min_free_space: '0',
        },
        slapformat: { partition_amount: 1 },
        networkcache: {
          'download-binary-cache-url': cache.info.shacache_url,
          'download-binary-dir-url': cache.info.shadir_url,
          'upload-binary-cache-url': cache.info.shacache_url,
          'upload-binary-dir-url': cache.info.shadir_url,
          'upload-token-file': cache.info.token_file,
          'signature-private-key-file': keyFile,
          'signature-certificate-list': `\n${signer.certificatePem.trim()}`,
        },
      }),
    );
    const format = await runSlaposProcess(['node', 'format', '--now', '--cfg', file]);
    assert.equal(format.exitCode, 0, format.stderr);
    await client.supply({ softwareReleaseUri: url, computerGuid: `COMP-${n}` });
    return file;
  };
  const software = async (cfg: string) => {
    const run = await runSlaposProcess(['node', 'software', '--now', '--cfg', cfg, '--json'], {
      timeoutMs: 120_000,
    });
    assert.equal(run.exitCode, 0, run.stderr);
    return JSON.parse(run.stdout) as { items: { url: string; outcome: string; installedFrom?: string }[] };
  };

  // Node 1: nothing in the cache yet; it builds, then uploads.
  const first = await software(await nodeCfg(1));
  assert.deepEqual(
    first.items.map((item) => [item.outcome, item.installedFrom]),
    [['installed', 'build']],
  );
  assert.equal(await readFile(runsFile, 'utf8'), 'run\n');
  const directory = softwareDirectory(softwareRoot, url);
  assert.match(await readFile(join(directory, BUILD_LOG_FILE), 'utf8'), /Uploaded to binary cache/);
  const status = await runSlaposProcess(['cache', 'status', '--dir', join(dir, 'cache'), '--json']);
  assert.deepEqual(
    (({ keys, entries }) => ({ keys, entries }))(
      JSON.parse(status.stdout) as { keys: number; entries: number },
    ),
    { keys: 1, entries: 1 },
  );
  const built = await tree(directory);

  // Node 2: the same software_root path, now empty (node 1's is moved aside to compare).
  await rename(softwareRoot, join(dir, 'soft-node1'));
  await mkdir(softwareRoot);
  const second = await software(await nodeCfg(2));
  assert.deepEqual(
    second.items.map((item) => [item.outcome, item.installedFrom]),
    [['installed', 'binary-cache']],
  );
  assert.equal(await readFile(runsFile, 'utf8'), 'run\n', 'the build step did not run again');
  assert.match(await readFile(join(directory, BUILD_LOG_FILE), 'utf8'), /binary cache/i);
  const installed = await tree(directory);
  assert.deepEqual(installed, built, 'the same files, contents, modes and links');
  assert.ok(installed.some((entry) => entry.path === 'share/private/key' && entry.mode === 0o600));
  assert.ok(installed.some((entry) => entry.path === 'bin/tool' && entry.mode === 0o750));
  assert.ok(installed.some((entry) => entry.path === 'share/tool-link' && entry.content === '../bin/tool'));

  // Run again: already installed, nothing downloaded or built.
  const again = await software(join(dir, 'node2.cfg'));
  assert.deepEqual(
    again.items.map((item) => item.outcome),
    ['up-to-date'],
  );
  // The cache server logged both uploads (blob and entry) and never the token.
  const token = await readFile(cache.info.token_file, 'utf8');
  assert.match(cache.stderr(), /shadir: entry put/);
  assert.equal(cache.stderr().includes(token), false);
});
