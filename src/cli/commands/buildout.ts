/**
 * `slapos buildout [-c FILE] [-o] [-N] [-U] [section:option=value …] [install [PART …]]` — runs a
 * buildout profile with the built-in engine, like zc.buildout's `bin/buildout`. Progress (parts,
 * downloads, build steps) goes to stderr: a live status line on a terminal, plain lines otherwise.
 */
import { Option, type Command } from 'commander';
import type { WriteStream } from 'node:tty';
import { SlapError, toSlapError } from '../../core/errors.ts';
import type { BuildoutEvent, BuildoutResult } from '../../buildout/index.ts';
import { PROGRESS_JSON_OPTION } from '../../buildout/progress.ts';
import type { CliContext } from '../context.ts';

interface BuildoutCommandOptions {
  config: string;
  offline?: boolean;
  nonNewest?: boolean;
  newest?: boolean;
  userDefaults: boolean;
  json?: boolean;
  uninstallAll?: boolean;
  progressJson?: boolean;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const PART_MESSAGES: Partial<Record<string, string>> = {
  installing: 'Installing',
  updating: 'Updating',
  uninstalling: 'Uninstalling',
  skipped: 'Keeping (not selected)',
};

/** Renders progress events: line based, plus a transient status line on a terminal. */
export class ProgressRenderer {
  private status = '';
  private readonly downloads = new Set<string>();

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly verbose: boolean,
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  private line(text: string): void {
    this.clearStatus();
    this.out.write(`${text}\n`);
  }

  private setStatus(text: string): void {
    if (!this.tty) return;
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    const shown = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.out.write(`\r\x1b[2K${shown}`);
    this.status = shown;
  }

  clearStatus(): void {
    if (this.status !== '' && this.tty) this.out.write('\r\x1b[2K');
    this.status = '';
  }

  handle(event: BuildoutEvent): void {
    switch (event.type) {
      case 'part': {
        const verb = PART_MESSAGES[event.action];
        if (verb) {
          const why = event.reason && event.reason !== 'removed' ? ` (${event.reason})` : '';
          this.line(`${verb} ${event.part}.${why}`);
        } else if (this.verbose && event.durationMs !== undefined) {
          this.line(`  ${event.part}: ${event.action} in ${(event.durationMs / 1000).toFixed(1)} s`);
        }
        break;
      }
      case 'profile':
        this.line(`Fetching profile ${event.url}`);
        break;
      case 'download': {
        const size = event.total
          ? `${formatBytes(event.received)} / ${formatBytes(event.total)}`
          : formatBytes(event.received);
        if (event.done) {
          this.downloads.delete(event.url);
          this.line(`  Downloaded ${event.url} (${formatBytes(event.received)})`);
        } else if (this.tty) {
          this.setStatus(`  Downloading ${event.url} ${size}`);
        } else if (!this.downloads.has(event.url)) {
          this.downloads.add(event.url);
          this.line(`  Downloading ${event.url}`);
        }
        break;
      }
      case 'step':
        this.line(`  ${event.part}: ${event.step}`);
        break;
      case 'output':
        if (this.verbose) this.line(`  ${event.part}| ${event.line}`);
        else this.setStatus(`  ${event.part}| ${event.line}`);
        break;
      case 'warning':
        this.line(`Warning: ${event.part ? `${event.part}: ` : ''}${event.message}`);
        break;
    }
  }
}

/** Splits the free arguments into assignments, then `install` and its parts. */
export function splitBuildoutArguments(args: readonly string[]): { assignments: string[]; parts: string[] } {
  const assignments: string[] = [];
  let i = 0;
  while (i < args.length && (args[i] ?? '').includes('=')) assignments.push(args[i++] as string);
  const rest = args.slice(i);
  if (rest.length === 0) return { assignments, parts: [] };
  if (rest[0] !== 'install') {
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `invalid command: ${rest[0]} (only "install [PART …]" is supported)`,
    );
  }
  return { assignments, parts: rest.slice(1) };
}

export function registerBuildout(program: Command, ctx: CliContext): void {
  program
    .command('buildout')
    .description('run a buildout profile (software or instance) with the built-in profile engine')
    .argument('[args...]', 'section:option=value assignments, then optionally: install [PART …]')
    .option('-c, --config <file>', 'profile to run', 'buildout.cfg')
    .option('-o, --offline', 'offline mode: no network downloads (buildout:offline=true)')
    .option('-N, --non-newest', 'do not look for newer remote profiles (buildout:newest=false)')
    .option('-n, --newest', 'look for newer remote profiles (buildout:newest=true)')
    .option('-U, --no-user-defaults', 'do not read ~/.buildout/default.cfg')
    .option('--json', 'print the result (installed, updated, uninstalled parts) as JSON')
    .option(
      '--uninstall-all',
      'uninstall every installed part (recorded in .installed.cfg) without reading the profile',
    )
    .addOption(new Option(PROGRESS_JSON_OPTION, 'progress as JSON lines on stderr').hideHelp())
    .action(async (args: string[], options: BuildoutCommandOptions, command: Command) => {
      const globals = command.optsWithGlobals<{ verbose?: number }>();
      const { assignments, parts } = splitBuildoutArguments(args);
      const renderer = new ProgressRenderer(ctx.stderr as WriteStream, (globals.verbose ?? 0) > 0);
      const onProgress = options.progressJson
        ? (event: BuildoutEvent) => ctx.stderr.write(`${JSON.stringify({ progress: event })}\n`)
        : (event: BuildoutEvent) => renderer.handle(event);
      const controller = new AbortController();
      const onSignal = (): void => controller.abort(new Error('interrupted'));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const { runBuildout, uninstallAll } = await import('../../buildout/index.ts');
      let result: BuildoutResult | { uninstalled: string[] };
      try {
        if (options.uninstallAll) {
          result = await uninstallAll({
            directory: ctx.cwd,
            env: ctx.env,
            logger: ctx.logger(),
            signal: controller.signal,
            onProgress,
          });
        } else
          result = await runBuildout({
            configFile: options.config,
            cwd: ctx.cwd,
            env: ctx.env,
            assignments,
            ...(options.offline ? { offline: true } : {}),
            ...(options.nonNewest ? { newest: false } : options.newest ? { newest: true } : {}),
            userDefaults: options.userDefaults,
            parts,
            logger: ctx.logger(),
            signal: controller.signal,
            onProgress,
          });
      } catch (error) {
        if (options.progressJson) {
          const slapError = toSlapError(error);
          const fields = { code: slapError.code, message: slapError.message, hint: slapError.hint };
          ctx.stderr.write(`${JSON.stringify({ error: fields })}\n`);
        }
        throw error;
      } finally {
        renderer.clearStatus();
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      if (options.json) ctx.printJson(result);
    });
}
