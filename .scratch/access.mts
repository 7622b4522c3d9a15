import { copyFileSync, rmSync } from 'node:fs';
const work = '/tmp/access-work.db';
for (const s of ['', '-wal', '-shm']) rmSync(work + s, { force: true });
copyFileSync('/tmp/scale-cache/cloud-10000x100-200000.db', work);
const { openSqliteStore } = await import('../src/master/storage/sqlite-store.ts');
const store = await openSqliteStore({ path: work });
for (const [name, f] of [
  ['listComputeNodeAccess', (r: any) => r.listComputeNodeAccess()],
  ['listPendingInstances', (r: any) => r.listPendingInstances()],
  ['nextHostPosition', (r: any) => r.nextHostPosition()],
  ['listRootTitles', (r: any) => r.listRootTitles('')],
  ['readNodeSnapshot', (r: any) => r.readNodeSnapshot('node-04242')],
  ['listInstancesOnNode', (r: any) => r.listInstancesOnNode('node-04243')],
  ['firstFreePartition', (r: any) => r.firstFreePartition('node-04244')],
] as const) {
  await store.read(f);
  const c0 = process.cpuUsage(); const t = performance.now();
  for (let i = 0; i < 5; i++) await store.read(f);
  const c = process.cpuUsage(c0);
  console.log(name.padEnd(24), ((performance.now() - t) / 5).toFixed(2).padStart(8), 'ms wall', ((c.user + c.system) / 5000).toFixed(2).padStart(8), 'ms cpu');
}
await store.close();
