import { loadCloud } from '../bench/_scale-load.ts';
import B from 'better-sqlite3';
import { rmSync } from 'node:fs';
const p = '/tmp/load-small.db'; rmSync(p, { force: true });
await loadCloud(p, { nodes: 50, partitions: 10, instances: 260 });
const db = new B(p, { readonly: true });
for (const t of ['compute_node', 'compute_node_revision', 'partition', 'partition_address', 'software_installation', 'instance']) console.log(t, (db.prepare(`select count(*) n from "${t}"`).get() as any).n);
console.log(db.prepare("select count(*) n from partition where slap_state='busy'").get(), db.prepare('select title, requested_by, compute_node_reference, partition_reference, requester_node, requester_partition from instance where id in (1,2,5,253)').all());
console.log(db.pragma('journal_mode', { simple: true }));
