import B from 'better-sqlite3';
const db = new B('/tmp/idx-try.db');
db.exec('CREATE INDEX IF NOT EXISTS instance_host_position ON instance (host_position)');
for (const q of ['select coalesce(max("host_position"), 0) + ? as "position" from "instance"', 'select max(host_position) from instance']) {
  console.log(q, db.prepare('EXPLAIN QUERY PLAN ' + q).all(...(q.includes('?') ? [1] : [])));
  const t = performance.now(); for (let i = 0; i < 100; i++) db.prepare(q).get(...(q.includes('?') ? [1] : [])); console.log((performance.now() - t) / 100, 'ms');
}
