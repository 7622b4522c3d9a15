// Heap by constructor with W watchers waiting (after their snapshots), compared with none.
import { copyFileSync, rmSync, readFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { Pool } from 'undici';
const work = '/tmp/mem-work.db';
for (const s of ['', '-wal', '-shm']) rmSync(work + s, { force: true });
copyFileSync('/tmp/scale-cache/cloud-10000x100-200000.db', work);
const { startMaster } = await import('../src/master/server.ts');
const master = await startMaster({ port: 0, databasePath: work, computerId: 'bench', maxConnections: 5000 });
const node = (i: number) => `node-${String(i).padStart(5, '0')}`;
const W = Number(process.argv[2] ?? 2000);
const post = async (pool: Pool, path: string, body: unknown) => { const r = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }); await r.body.arrayBuffer(); };
function summarize(file: string): Map<string, number> {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields; const types = snap.snapshot.meta.node_types[0];
  const n = f.length; const nodes = snap.nodes; const strings = snap.strings;
  const it = f.indexOf('type'), iname = f.indexOf('name'), isz = f.indexOf('self_size');
  const m = new Map<string, number>();
  for (let i = 0; i < nodes.length; i += n) { const t = types[nodes[i + it]]; const key = t === 'object' || t === 'closure' ? `${t}:${strings[nodes[i + iname]]}` : t; m.set(key, (m.get(key) ?? 0) + nodes[i + isz]); }
  return m;
}
globalThis.gc?.();
const a = summarize(writeHeapSnapshot('/tmp/heap-a.heapsnapshot'));
import { fork } from 'node:child_process';
const child = fork(new URL('./watch-client.mts', import.meta.url).pathname, [master.url, String(W)], { execArgv: ['--import', 'tsx'] });
await new Promise((r) => setTimeout(r, 10_000));
globalThis.gc?.();
console.log('hub size', master.services.context.revisions.size);
const b = summarize(writeHeapSnapshot('/tmp/heap-b.heapsnapshot'));
const diff = [...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const).sort((x, y) => y[1] - x[1]).slice(0, 30);
let total = 0; for (const [, v] of b) total += v; let totalA = 0; for (const [, v] of a) totalA += v;
console.log('heap', (totalA / 1e6).toFixed(1), '→', (total / 1e6).toFixed(1), 'MB; per watcher', ((total - totalA) / W).toFixed(0), 'bytes');
for (const [k, v] of diff) console.log(String((v / W).toFixed(0)).padStart(7), 'B/watcher', k);
child.send('bye'); await master.close();
