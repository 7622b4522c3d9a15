/**
 * What a proxy-mode master loads to answer its first call, checked in a fresh Node process: module
 * loading is most of its start-up time and a good part of its memory (bench/startup.ts). Neither
 * schema compiler (its request validators are generated code, fastify's compilers are replaced),
 * nor the X.509 library (master mode's registrations), nor the HTTP client, nor the packages that
 * the build bundles (Kysely, fastify: one module each from dist/vendor/ when compiled).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const SCRIPT = `
import { createRequire } from 'node:module';
import { register } from 'node:module';
const esm = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => esm.push(url));
port1.unref();
register('data:text/javascript,' + encodeURIComponent(\`
  let port;
  export function initialize(data) { port = data.port; }
  export async function load(url, context, next) { port.postMessage(url); return next(url, context); }
\`), { data: { port: port2 }, transferList: [port2] });
const { startMaster } = await import(process.argv[1]);
const master = await startMaster({ port: 0, database: { kind: 'sqlite', path: ':memory:' } });
const answer = await fetch(master.url + '/slapos.allDocs.v0.instance_tree_list', {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
});
if (answer.status !== 200) throw new Error('status ' + answer.status);
await master.close();
await new Promise((resolve) => setTimeout(resolve, 100));
const cjs = Object.keys(createRequire(import.meta.url).cache);
process.stdout.write(JSON.stringify([...esm, ...cjs]));
`;

/** The node_modules package of a loaded file (URL or path), with its path inside the package. */
function packageFile(file: string): { name: string; inside: string } | undefined {
  const match = /node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\](.*)$/.exec(decodeURIComponent(file));
  return match ? { name: (match[1] ?? '').replace(/\\/g, '/'), inside: match[2] ?? '' } : undefined;
}

test('a proxy-mode master answers its first call without loading compilers, X.509, HTTP client or unbundled Kysely/fastify', async () => {
  const server = new URL('./server.js', import.meta.url.replace(/\.ts$/, '.js'));
  // fetch (the test's own client) is node's undici, built in: not the undici package.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', SCRIPT, server.href],
    { timeout: 120_000 },
  );
  const loaded = JSON.parse(stdout) as string[];
  assert.ok(
    loaded.some((file) => file.includes('better-sqlite3')),
    'the module list is complete',
  );
  const compiled = !import.meta.url.endsWith('.ts');
  const refused = (file: string): boolean => {
    const found = packageFile(file);
    if (!found) return false;
    if (found.name === 'ajv') return !found.inside.startsWith('dist/runtime/'); // the generated code's helpers
    if (found.name === 'fast-json-stringify')
      return !['lib/serializer.js', 'lib/v8.js'].includes(found.inside); // fastify's error serializer
    if (['kysely', 'fastify'].includes(found.name)) return compiled; // bundled (dist/vendor/)
    return [
      '@fastify/ajv-compiler',
      '@fastify/fast-json-stringify-compiler',
      'ajv-formats',
      '@peculiar/x509',
      'reflect-metadata',
      'undici',
      'semver',
    ].includes(found.name);
  };
  assert.deepEqual(loaded.filter(refused), []);
});
