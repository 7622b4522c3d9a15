/**
 * The shape of a recipe service's entry point (certificate_authority, sshkeys_authority): string
 * options all required (exit 2 naming them when one is missing), the service run until
 * SIGTERM/SIGINT with its log lines on stdout, a failure reported as `NAME: message` (exit 1).
 */
import { parseArgs } from 'node:util';

/** `--a, --b and --c are required`. */
export function requiredOptionsMessage(options: readonly string[]): string {
  const flags = options.map((o) => `--${o}`);
  const list = flags.length < 2 ? flags.join('') : `${flags.slice(0, -1).join(', ')} and ${flags.at(-1)}`;
  return `${list} ${flags.length < 2 ? 'is' : 'are'} required`;
}

export async function runServiceMain<K extends string>(
  name: string,
  required: readonly K[],
  run: (values: Record<K, string>, log: (line: string) => void, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const { values } = parseArgs({
    options: Object.fromEntries(required.map((k) => [k, { type: 'string' as const }])),
  });
  const given = values as Partial<Record<K, string>>;
  if (required.some((k) => !given[k])) {
    process.stderr.write(`${name}: ${requiredOptionsMessage(required)}\n`);
    process.exitCode = 2;
    return;
  }
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  try {
    await run(given as Record<K, string>, (line) => process.stdout.write(`${line}\n`), stop.signal);
  } catch (error) {
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
