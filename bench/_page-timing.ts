/**
 * Times GETs of one page on a master over one keep-alive connection: wall time and this process's
 * CPU time (server and client; on a loaded machine the CPU time is the closer figure of the work one
 * page costs), p50 and p99 after 20 warm-up requests, with the page's size.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export function quantiles(times: number[]): string {
  times.sort((a, b) => a - b);
  const at = (quantile: number): string =>
    (times[Math.min(times.length - 1, Math.floor(quantile * times.length))] ?? 0).toFixed(1);
  return `p50 ${at(0.5).padStart(6)} ms  p99 ${at(0.99).padStart(6)} ms`;
}

export interface PageTimer {
  measure: (label: string, path: string) => Promise<void>;
  close: () => Promise<void>;
}

export function pageTimer(url: string, options: { rounds: number; labelWidth: number }): PageTimer {
  const pool = new Pool(url, { connections: 1 });
  return {
    async measure(label, path) {
      const times: number[] = [];
      const cpu: number[] = [];
      let bytes = 0;
      for (let round = 0; round < options.rounds + 20; round++) {
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        const response = await pool.request({ method: 'GET', path });
        const body = await response.body.text();
        const used = process.cpuUsage(cpuStarted);
        const elapsed = performance.now() - started;
        if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode}`);
        bytes = Buffer.byteLength(body);
        if (round < 20) continue; // warm-up
        times.push(elapsed);
        cpu.push((used.user + used.system) / 1000);
      }
      process.stdout.write(
        `${label.padEnd(options.labelWidth)} wall ${quantiles(times)}  cpu ${quantiles(cpu)}  ${(bytes / 1024).toFixed(0)} kB\n`,
      );
    },
    close: () => pool.close(),
  };
}
