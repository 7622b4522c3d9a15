/**
 * A cache server in its own process for benchmarks (bench/cache.ts), as `slapos cache start` runs
 * it: started with `fork`, it answers on the IPC channel with its URLs and token file, and closes
 * on a `close` message.
 */
import { startCacheServer } from '../src/cache/cache-server.ts';

const [dir] = process.argv.slice(2);
if (dir === undefined || !process.send) throw new Error('usage: fork(_cache-process.ts, [dir])');
const server = await startCacheServer({ dir });
process.send({
  shacacheUrl: server.shacacheUrl,
  shadirUrl: server.shadirUrl,
  tokenFile: server.layout.tokenFile,
});
process.on('message', (message: { kind: string }) => {
  if (message.kind === 'close') void server.close().then(() => process.exit(0));
});
