import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const self = new Map<number, number>();
const dt = p.timeDeltas as number[];
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const total = [...self.values()].reduce((a, b) => a + b, 0);
const key = (n: any) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*\/(node_modules|src|dist)\//, '$1/')}:${n.callFrame.lineNumber}`;
const selfBy = new Map<string, number>(); const incl = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id); selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + t);
  const seen = new Set<string>(); let cur: number | undefined = id;
  while (cur !== undefined) { const k = key(byId.get(cur)); if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t); } cur = parent.get(cur); }
}
const top = (m: Map<string, number>, n: number, filter = (k: string) => true) => [...m].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
console.log('total', (total / 1e6).toFixed(1), 's\nSELF:\n' + top(selfBy, 30) + '\nINCLUSIVE (src/dist):\n' + top(incl, 45, (k) => /(src|dist)\//.test(k)));
