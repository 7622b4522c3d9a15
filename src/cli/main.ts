/**
 * The `slapos` program: global options, command registration, and the one place where errors
 * become exit codes and messages.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT, SlapError, toSlapError } from '../core/errors.ts';
import { createLogger, deferredLogger, type Logger, type LogLevel } from '../lib/logger.ts';
import type { CliContext, CliIo, LoggerKind } from './context.ts';
import { COMMANDS } from './commands/index.ts';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

interface GlobalOptions {
  verbose?: number;
  quiet?: boolean;
  logFile?: string | undefined;
  /** The original's other spellings of --log-file (its cron lines use --logfile). */
  logfile?: string;
  log_file?: string;
}

/** Global options that take a value (the word after them is not the command). */
const VALUED_GLOBAL_OPTIONS = ['--log-file', '--logfile', '--log_file'];

/** The first word of the command line, past the global options (undefined: none, e.g. `--help`). */
export function commandWord(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (VALUED_GLOBAL_OPTIONS.includes(arg)) index++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/**
 * The program with the commands of `argv`'s first word registered (every command for `--help`, a
 * word no command has, or no argv: help and "unknown command" list them all).
 */
export async function createProgram(ctx: CliContext, argv?: readonly string[]): Promise<Command> {
  const word = argv === undefined ? undefined : commandWord(argv);
  const matching = COMMANDS.filter((entry) => entry.word === word);
  const registrars = await Promise.all(
    (matching.length > 0 ? matching : COMMANDS).map((entry) => entry.load()),
  );
  const program = new Command('slapos');
  program
    .description('SlapOS: master, node and client of a decentralized cloud (TypeScript implementation)')
    .version(packageVersion(), '--version')
    .option('-v, --verbose', 'more log output (repeatable)', (_v, previous: number) => previous + 1, 0)
    .option('-q, --quiet', 'only warnings and errors in the log')
    .option('--log-file <path>', 'write the log to this file instead of stderr')
    .addOption(new Option('--logfile <path>', 'same as --log-file').hideHelp())
    .addOption(new Option('--log_file <path>', 'same as --log-file').hideHelp())
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    })
    .exitOverride();
  program.hook('preAction', (thisCommand) => {
    const options = thisCommand.opts<GlobalOptions>();
    globalOptions = { ...options, logFile: options.logFile ?? options.logfile ?? options.log_file };
  });
  for (const register of registrars) register(program, ctx);
  // Every subcommand inherits the output configuration and the exit override.
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride();
      sub.configureOutput({
        writeOut: (text) => ctx.stdout.write(text),
        writeErr: (text) => ctx.stderr.write(text),
      });
      sub.showHelpAfterError('(add --help for usage)');
      configure(sub);
    }
  };
  configure(program);
  return program;
}

let globalOptions: GlobalOptions = {};

const LEVELS: readonly LogLevel[] = ['warn', 'info', 'debug', 'trace'];

/**
 * One-shot commands print what matters themselves, so their log shows only warnings unless asked
 * (-v: info, -vv: debug); daemons (`proxy start`, `node run`) log at info by default, since their log
 * is their output. A log file gets info at least.
 */
function levelFor(options: GlobalOptions, kind: LoggerKind): LogLevel {
  if (options.quiet) return kind === 'daemon' ? 'warn' : 'error';
  let base = kind === 'daemon' ? 1 : 0;
  if (options.logFile !== undefined) base = Math.max(base, 1);
  return LEVELS[Math.min(base + (options.verbose ?? 0), LEVELS.length - 1)] ?? 'trace';
}

export function createContext(io: CliIo): CliContext {
  let logger: Logger | undefined;
  return {
    ...io,
    exitCode: EXIT.ok,
    print(text) {
      io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    printJson(value) {
      io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    note(text) {
      io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    logger(kind = 'command') {
      const options = {
        level: levelFor(globalOptions, kind),
        ...(globalOptions.logFile === undefined ? {} : { destination: globalOptions.logFile }),
      };
      // A daemon logs at once; a one-shot command often not at all (then pino is never loaded).
      logger ??= kind === 'daemon' ? createLogger(options) : deferredLogger(options);
      return logger;
    },
  };
}

/** Runs the CLI and returns the exit code (never throws, never calls process.exit). */
export async function runCli(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const ctx = createContext({
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  });
  globalOptions = {};
  try {
    const program = await createProgram(ctx, argv);
    await program.parseAsync([...argv]);
    return ctx.exitCode;
  } catch (error) {
    return reportError(ctx, error);
  }
}

function reportError(ctx: CliContext, error: unknown): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return EXIT.ok; // --help, --version
    // commander already printed its message
    return EXIT.usage;
  }
  const slapError = toSlapError(error);
  ctx.note(`slapos: error: ${slapError.message}`);
  if (slapError.hint) ctx.note(`hint: ${slapError.hint}`);
  if (slapError.code === 'SLAP_ERR_INTERNAL' && error instanceof Error && error.stack) {
    ctx.logger().debug({ err: error }, 'internal error');
  }
  return slapError instanceof SlapError ? slapError.exitCode : EXIT.internal;
}
