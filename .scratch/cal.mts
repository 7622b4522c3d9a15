import B from 'better-sqlite3';
const db = new B('/tmp/idx-try.db');
const p = db.prepare(`select "title" from "instance" where "owner" = ? and "shared" = ? and "requested_by" = ? order by "id"`);
for (let k = 0; k < 3; k++) {
const c0 = process.cpuUsage(); const t = performance.now(); const r = p.all('', 0, ''); const c = process.cpuUsage(c0);
console.log(r.length, 'rows', (performance.now() - t).toFixed(1), 'ms wall', ((c.user + c.system) / 1000).toFixed(1), 'ms cpu');
}
