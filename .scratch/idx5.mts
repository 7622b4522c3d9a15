import B from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
copyFileSync('/tmp/scale-cache/cloud-10000x100-200000.db', '/tmp/idx5.db');
const db = new B('/tmp/idx5.db');
const q = `select "i"."id" as "id", "i"."title" as "title", "i"."requested_by" as "requestedBy", "i"."requested_state" as "requestedState", "p"."reference" as "partitionId", "i"."software_release" as "softwareRelease" from "partition" as "p" inner join "instance" as "i" on "i"."compute_node_reference" = "p"."compute_node_reference" and "i"."partition_reference" = "p"."reference" and "i"."shared" = 0 where "p"."compute_node_reference" = ? and "p"."slap_state" = 'busy' order by "p"."id"`;
const node = (i: number) => `node-${String(i).padStart(5, '0')}`;
const run = (label: string) => {
  const p = db.prepare(q);
  console.log(label, (db.prepare('EXPLAIN QUERY PLAN ' + q).all('x') as any[]).map((r) => r.detail).join(' | '));
  for (const round of [0, 1]) {
    const c0 = process.cpuUsage(); const t = performance.now(); let rows = 0;
    for (let k = 0; k < 2000; k++) rows += p.all(node((k * 7919 + round * 13) % 10000)).length;
    const c = process.cpuUsage(c0);
    console.log(`  round ${round}: ${rows} rows, ${((c.user + c.system) / 2000).toFixed(0)} µs cpu/query, ${((performance.now() - t) * 1000 / 2000).toFixed(0)} µs wall`);
  }
};
run('before');
db.exec('DROP INDEX instance_partition_index; CREATE INDEX instance_partition_index ON instance (compute_node_reference, partition_reference, shared, requested_state, title, requested_by, software_release)');
run('cover ');
