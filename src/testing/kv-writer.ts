/**
 * A client of the key-value example (examples/kv) writing continuously from one host of a test
 * network: `PUT <url>/kv/<prefix>-<n>` with the value `v<n>`, n = 1, 2…, one at a time, and every
 * acknowledged write (200) recorded with when it was sent and acknowledged. A write that fails or
 * times out (2 s) is not retried and not recorded: whether it landed is unknown, nothing is checked
 * of it (the last failure is kept for the diagnostics).
 */
import type { TestNetwork } from './netns.ts';

export interface AcknowledgedWrite {
  key: string;
  value: string;
  /** Date.now() when the PUT was sent and when its 200 came back (the machine's one clock). */
  sentAt: number;
  ackAt: number;
}

export interface KvWriter {
  /** Every acknowledged write so far, in order. */
  readonly acks: readonly AcknowledgedWrite[];
  /** Resolves once `count` more writes than now have been acknowledged (rejects after timeoutMs). */
  waitForAcks(count: number, timeoutMs?: number): Promise<void>;
  /** SIGKILL (also when its host is frozen); what it printed before is kept. */
  kill(): Promise<void>;
}

const SCRIPT = `
  const [base, prefix, intervalMs] = process.argv.slice(1);
  let n = 0;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const loop = async () => {
    for (;;) {
      const key = prefix + '-' + ++n;
      const value = 'v' + n;
      const sentAt = Date.now();
      try {
        const response = await fetch(base + '/kv/' + encodeURIComponent(key), {
          method: 'PUT',
          body: value,
          signal: AbortSignal.timeout(2000),
        });
        await response.arrayBuffer();
        if (response.status === 200)
          process.stdout.write(JSON.stringify({ key, value, sentAt, ackAt: Date.now() }) + '\\n');
      } catch {
        // not acknowledged: nothing recorded
      }
      await sleep(Number(intervalMs));
    }
  };
  loop();
`;

/** Starts the writer on `host` against the service at `url` (no trailing slash). */
export function startKvWriter(
  network: TestNetwork,
  host: string,
  url: string,
  options: { prefix: string; intervalMs?: number },
): KvWriter {
  const base = url.replace(/\/+$/, '');
  const argv = [process.execPath, '-e', SCRIPT, base, options.prefix, String(options.intervalMs ?? 50)];
  const child = network.spawn(host, argv);
  const acks: AcknowledgedWrite[] = [];
  let pending = '';
  let stderr = '';
  let lastFailure = 'none';
  const waiters = new Set<() => void>();
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const record = JSON.parse(line) as AcknowledgedWrite | { failure: string };
      if ('failure' in record) lastFailure = record.failure;
      else acks.push(record);
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    acks,
    waitForAcks(count, timeoutMs = 60_000) {
      const target = acks.length + count;
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (acks.length < target) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `${count} writes to ${base} from ${host} not acknowledged in time (last failure: ${lastFailure}) ${stderr}`,
            ),
          );
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
