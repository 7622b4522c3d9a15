import { readFileSync } from 'node:fs';
function load(file: string) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields; const types = snap.snapshot.meta.node_types[0];
  const n = f.length; const nodes = snap.nodes; const strings = snap.strings;
  const it = f.indexOf('type'), iname = f.indexOf('name'), isz = f.indexOf('self_size');
  const m = new Map<string, [number, number]>();
  for (let i = 0; i < nodes.length; i += n) { const t = types[nodes[i + it]]; if (t !== 'array') continue; const sz = nodes[i + isz]; const key = `${strings[nodes[i + iname]]} ${sz >= 16384 ? '>=16K' : sz >= 1024 ? '1K-16K' : '<1K'}`; const v = m.get(key) ?? [0, 0]; v[0] += sz; v[1]++; m.set(key, v); }
  return m;
}
const a = load('/tmp/heap-a.heapsnapshot'), b = load('/tmp/heap-b.heapsnapshot');
const d = [...b].map(([k, v]) => [k, v[0] - (a.get(k)?.[0] ?? 0), v[1] - (a.get(k)?.[1] ?? 0)] as const).sort((x, y) => y[1] - x[1]).slice(0, 12);
for (const [k, sz, c] of d) console.log((sz / 1e6).toFixed(2), 'MB', c, 'arrays', k);
