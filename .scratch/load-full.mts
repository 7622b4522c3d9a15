import { loadCloud } from '../bench/_scale-load.ts';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
mkdirSync('/tmp/scale-cache', { recursive: true });
const tmp = '/tmp/scale-cache/loading.db';
rmSync(tmp, { force: true });
const t = performance.now();
await loadCloud(tmp, { nodes: 10000, partitions: 100, instances: 200000 });
renameSync(tmp, '/tmp/scale-cache/cloud-10000x100-200000.db');
console.log('loaded in', ((performance.now() - t) / 1000).toFixed(1), 's');
