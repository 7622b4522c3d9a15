// Times every SQL statement the master runs against a loaded cloud, over the API.
import BetterSqlite3 from 'better-sqlite3';
import { copyFileSync, rmSync } from 'node:fs';
import { Pool } from 'undici';
const dbPath = process.argv[2]!;
const nodes = Number(process.argv[3] ?? 1000);
const work = '/tmp/profile-work.db';
rmSync(work, { force: true }); rmSync(work + '-wal', { force: true }); rmSync(work + '-shm', { force: true });
copyFileSync(dbPath, work);
const stats = new Map<string, { n: number; ms: number; max: number }>();
const proto = (BetterSqlite3 as any).prototype;
const origPrepare = proto.prepare;
proto.prepare = function (sql: string, ...rest: unknown[]) {
  const st = origPrepare.call(this, sql, ...rest);
  for (const m of ['all', 'get', 'run']) {
    const f = st[m].bind(st);
    st[m] = (...args: unknown[]) => {
      const t = performance.now();
      try { return f(...args); } finally {
        const d = performance.now() - t;
        const s = stats.get(sql) ?? { n: 0, ms: 0, max: 0 };
        s.n++; s.ms += d; s.max = Math.max(s.max, d); stats.set(sql, s);
      }
    };
  }
  return st;
};
const { startMaster } = await import('/work/wt/scale/src/master/server.ts');
const master = await startMaster({ port: 0, databasePath: work, computerId: 'bench' });
const pool = new Pool(master.url, { connections: 4 });
const post = async (path: string, body: unknown) => {
  const r = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const t = await r.body.text();
  if (r.statusCode !== 200) throw new Error(path + ' ' + r.statusCode + ' ' + t);
  return JSON.parse(t);
};
const node = (i: number) => `node-${String(i).padStart(5, '0')}`;
const SR = 'https://lab.example.com/software/hello/software.cfg';
for (let k = 0; k < 200; k++) {
  const n = (k * 7919) % nodes;
  await post('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: node(n) });
  await post('/slapos.get.ext.compute_node_snapshot', { computer_guid: node(n) });
  await post('/slapos.post.v0.software_instance', { title: `new-${k}`, software_release_uri: SR, software_type: 'default', parameters: { a: String(k) }, sla_parameters: { computer_guid: node(n) } });
  await post('/slapos.post.v0.software_instance', { title: `tree-${k * 4}`, software_release_uri: SR, software_type: 'default', parameters: { a: String(k) }, sla_parameters: { computer_guid: node(k*4 % nodes) } });
  await post('/slapos.post.v0.software_instance', { title: `shared-${k}`, software_release_uri: SR, software_type: 'default', shared: true, parameters: { a: String(k) }, sla_parameters: { computer_guid: node(n) } });
  await post('/slapos.post.v0.compute_node_usage', { computer_guid: node(n), tioxml: '<journal/>' });
  await post('/slapos.watch.ext.compute_node_revision', { computer_guid: node(n), after_revision: 0, timeout_ms: 0 });
}
await post('/slapos.allDocs.v0.instance_tree_list', {});
await pool.close();
await master.close();
const rows = [...stats].sort((a, b) => b[1].ms / b[1].n - a[1].ms / a[1].n);
for (const [sql, s] of rows.slice(0, 25)) console.log(`${(s.ms / s.n).toFixed(3).padStart(8)} ms avg ${s.max.toFixed(2).padStart(8)} max ${String(s.n).padStart(5)}x  ${sql.replace(/\s+/g, ' ').slice(0, 260)}`);
const db = new BetterSqlite3(work, { readonly: true });
for (const [sql, s] of rows.slice(0, 12)) {
  if (/^(COMMIT|BEGIN|with|PRAGMA)/.test(sql) || sql.includes('sqlite_master')) continue;
  try {
    const n = (sql.match(/\?/g) ?? []).length;
    const plan = db.prepare('EXPLAIN QUERY PLAN ' + sql).all(...Array(n).fill(null)) as { detail: string }[];
    console.log(`\n${(s.ms / s.n).toFixed(2)} ms: ${sql.replace(/\s+/g, ' ').replace(/"i"\.\*, "p".*?from/, 'i.*, p... from')}\n  ` + plan.map((p) => p.detail).join('\n  '));
  } catch (e) { console.log('explain failed', String(e)); }
}
