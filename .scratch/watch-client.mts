import { Pool } from 'undici';
const [url, W] = [process.argv[2]!, Number(process.argv[3])];
const node = (i: number) => `node-${String(i).padStart(5, '0')}`;
const watch = new Pool(url, { connections: W + 10, headersTimeout: 120_000, bodyTimeout: 120_000 });
Array.from({ length: W }, (_, i) => watch.request({ path: '/slapos.watch.ext.compute_node_revision', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ computer_guid: node(i * 5), after_revision: 1, timeout_ms: 45_000 }) }).then((r) => r.body.dump()).catch(() => undefined));
process.on('message', () => process.exit(0));
