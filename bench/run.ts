/**
 * Benchmark dispatcher: `npm run bench -- <name> [args…]` runs `bench/<name>.ts`, whose `main(args)`
 * prints its figures. `npm run bench` alone lists the benchmarks.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Benchmark {
  main(args: string[]): Promise<void>;
}

const directory = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(directory)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.startsWith('_'))
  .map((file) => file.slice(0, -'.ts'.length))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  process.stderr.write(
    `${name === undefined ? '' : `unknown benchmark: ${name}\n`}usage: npm run bench -- <name> [args]\nbenchmarks: ${available.join(', ')}\n`,
  );
  process.exitCode = name === undefined ? 0 : 5;
} else {
  const benchmark = (await import(`./${name}.ts`)) as Benchmark;
  await benchmark.main(args);
}
