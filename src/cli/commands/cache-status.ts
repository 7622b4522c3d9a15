/** `slapos cache status --dir DIR`: whether a cache server serves DIR, and what it holds. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

export function registerCacheStatus(program: Command, ctx: CliContext): void {
  commandGroup(program, 'cache')
    .command('status')
    .description(
      'say whether a cache server serves DIR, and how many blobs, shadir entries and tokens it holds',
    )
    .requiredOption('--dir <dir>', 'the cache server directory (slapos cache start --dir)')
    .option('--json', 'print the status as JSON (dir, pid, running, blobs, bytes, keys, entries, tokens)')
    .action(async (flags: { dir: string; json?: boolean }) => {
      const { cacheStatus } = await import('../../cache/cache-admin.ts');
      const status = await cacheStatus(resolve(ctx.cwd, flags.dir));
      if (flags.json) {
        ctx.printJson(status);
        return;
      }
      ctx.print(
        [
          `Cache server directory ${status.dir}: ${status.running ? `served (pid ${status.pid})` : 'not served'}`,
          `  blobs:          ${status.blobs} (${status.bytes} bytes)`,
          `  shadir entries: ${status.entries} under ${status.keys} keys`,
          `  upload tokens:  ${status.tokens}`,
        ].join('\n'),
      );
      if (!status.running) ctx.exitCode = 3;
    });
}
