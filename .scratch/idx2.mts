import B from 'better-sqlite3';
const db = new B('/tmp/idx-try.db');
const qs = [
 `select "i"."title" from "instance" as "i" inner join "partition" as "p" on "p"."compute_node_reference" = "i"."compute_node_reference" and "p"."reference" = "i"."partition_reference" where "i"."owner" = ? and "i"."shared" = ? and "i"."requested_by" = ? order by "p"."id"`,
 `select "title" from "instance" where "owner" = ? and "shared" = ? and "requested_by" = ? order by "id"`,
 `select "title" from "instance" where "owner" = ? and "shared" = ? and "requested_by" = ? and "compute_node_reference" is null order by "id"`,
];
const run = (label: string) => { for (const q of qs) { const p = db.prepare(q); p.all('', 0, ''); const t = performance.now(); for (let i = 0; i < 5; i++) p.all('', 0, ''); console.log(label, ((performance.now() - t) / 5).toFixed(2), 'ms', (db.prepare('EXPLAIN QUERY PLAN ' + q).all('', 0, '') as any[]).map((r) => r.detail).join(' | ')); } };
db.exec('DROP INDEX IF EXISTS instance_owner_root');
run('before');
db.exec('CREATE INDEX instance_owner_root ON instance (owner, requested_by, shared)');
run('after ');
