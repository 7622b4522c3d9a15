/**
 * Benchmark dispatcher: `npm run bench -- <name> [args…]` runs `bench/<name>.ts` in its own Node
 * process (with tsx), passing the arguments on; `npm run bench` alone lists the benchmarks.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const directory = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(directory)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && !file.startsWith('_'))
  .map((file) => file.slice(0, -'.ts'.length))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  process.stderr.write(
    `${name === undefined ? '' : `unknown benchmark: ${name}\n`}usage: npm run bench -- <name> [args]\n` +
      `benchmarks: ${available.join(', ')}\n`,
  );
  process.exitCode = name === undefined ? 0 : 5;
} else {
  const child = spawn(process.execPath, ['--import', 'tsx', `${directory}${name}.ts`, ...args], {
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  process.exitCode = await new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
}
