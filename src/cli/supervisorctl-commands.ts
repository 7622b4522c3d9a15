/**
 * The supervisorctl actions, each defined once and mounted twice: under `slapos node supervisorctl`
 * and as the aliases `slapos node status|start|stop|restart|tail` (as the original slapos does).
 */
import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT, SlapError } from '../core/errors.ts';
import type { SupervisorClient } from '../node/supervisor/client.ts';
import type { CliContext } from './context.ts';
import {
  addLocationOptions,
  clientFor,
  renderResults,
  renderStatus,
  reportResults,
  resolveTargets,
  runVerb,
  selectProcesses,
  type LocationOptions,
} from './supervisorctl.ts';

interface JsonOption {
  json?: boolean;
}

/**
 * Where the supervisor is, from the action's own options or its parent's: the original takes
 * `slapos node supervisorctl [options] [supervisorctl args]`, so `supervisorctl --cfg F status` and
 * `supervisorctl status --cfg F` both work (the parent's options are read wherever they stand).
 */
function locationOf(command: Command): LocationOptions {
  const { cfg, socket, instanceRoot } = command.optsWithGlobals<LocationOptions>();
  return {
    ...(cfg === undefined ? {} : { cfg }),
    ...(socket === undefined ? {} : { socket }),
    ...(instanceRoot === undefined ? {} : { instanceRoot }),
  };
}

export function defineStatus(command: Command, ctx: CliContext): Command {
  return addLocationOptions(command)
    .description('show the state of supervised processes (all, or those named: group:name, group:*, group)')
    .argument('[names...]', 'processes to show')
    .option('--json', 'print the processes as JSON')
    .action(async (names: string[], options: JsonOption, command: Command) => {
      const status = await clientFor(locationOf(command), ctx).status();
      const { selected, errors } = selectProcesses(names, status.processes);
      if (options.json) ctx.printJson(selected);
      else if (selected.length > 0) ctx.print(renderStatus(selected));
      for (const error of errors) if (!error.ok) ctx.note(`${error.name}: ERROR (${error.error.reason})`);
      if (errors.length > 0) ctx.exitCode = EXIT.failure;
    });
}

function defineVerb(command: Command, ctx: CliContext, verb: 'start' | 'stop'): Command {
  return addLocationOptions(command)
    .description(`${verb} processes: group:name, group:* (a partition), a group name, or all`)
    .argument('<names...>', `processes to ${verb}`)
    .option('--json', 'print the results as JSON')
    .action(async (names: string[], options: JsonOption, command: Command) => {
      const client = clientFor(locationOf(command), ctx);
      const { processes } = await client.status();
      const results = await runVerb(client, verb, resolveTargets(names, processes));
      reportResults(ctx, verb, results, options.json === true);
    });
}

export function defineStart(command: Command, ctx: CliContext): Command {
  return defineVerb(command, ctx, 'start');
}

export function defineStop(command: Command, ctx: CliContext): Command {
  return defineVerb(command, ctx, 'stop');
}

export function defineRestart(command: Command, ctx: CliContext): Command {
  return addLocationOptions(command)
    .description('stop then start processes: group:name, group:* (a partition), a group name, or all')
    .argument('<names...>', 'processes to restart')
    .option('--json', 'print the results as JSON')
    .action(async (names: string[], options: JsonOption, command: Command) => {
      const client = clientFor(locationOf(command), ctx);
      const { processes } = await client.status();
      const resolved = resolveTargets(names, processes);
      // A process that was not running is just started.
      const stopped = (await runVerb(client, 'stop', resolved)).filter(
        (r) => r.ok || r.error.reason !== 'not running',
      );
      const started = await runVerb(client, 'start', resolved);
      if (options.json) ctx.printJson({ stopped, started });
      else
        for (const line of [...renderResults('stop', stopped), ...renderResults('start', started)])
          ctx.print(line);
      if ([...stopped, ...started].some((r) => !r.ok)) ctx.exitCode = EXIT.failure;
    });
}

async function follow(
  client: SupervisorClient,
  name: string,
  options: { offset: number; signal: AbortSignal; write: (text: string) => void },
): Promise<void> {
  let offset = options.offset;
  while (!options.signal.aborted) {
    await sleep(500, undefined, { signal: options.signal }).catch(() => undefined);
    if (options.signal.aborted) break;
    const tail = await client.tail(name, { bytes: 64 * 1024, offset });
    if (tail.data) options.write(tail.data);
    offset = tail.offset;
  }
}

export function defineTail(command: Command, ctx: CliContext): Command {
  return addLocationOptions(command)
    .description("print the end of a process's log (stdout and stderr go to the same log)")
    .argument('<name>', 'the process (group:name)')
    .argument('[stream]', 'stdout or stderr (the same log: accepted for supervisorctl compatibility)')
    .option('-f, --follow', 'keep printing what is added, until interrupted')
    .option('-n, --bytes <count>', 'how many bytes at most', '1600')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        name: string,
        stream: string | undefined,
        options: JsonOption & { follow?: boolean; bytes: string },
        command: Command,
      ) => {
        if (stream !== undefined && stream !== 'stdout' && stream !== 'stderr')
          throw new SlapError('SLAP_ERR_USAGE', `unknown stream ${stream}: stdout or stderr`);
        const bytes = Number(options.bytes);
        if (!Number.isInteger(bytes) || bytes < 1)
          throw new SlapError('SLAP_ERR_USAGE', `--bytes: a positive integer, not ${options.bytes}`);
        const client = clientFor(locationOf(command), ctx);
        const tail = await client.tail(name, { bytes });
        if (options.json) {
          ctx.printJson(tail);
          return;
        }
        ctx.stdout.write(tail.data);
        if (!options.follow) return;
        const abort = new AbortController();
        const onInterrupt = (): void => abort.abort();
        process.once('SIGINT', onInterrupt);
        try {
          await follow(client, name, {
            offset: tail.offset,
            signal: abort.signal,
            write: (text) => ctx.stdout.write(text),
          });
        } finally {
          process.off('SIGINT', onInterrupt);
        }
      },
    );
}

export function defineShutdown(command: Command, ctx: CliContext): Command {
  return addLocationOptions(command)
    .description('stop every process, then the supervisor (with --keep-programs: only the supervisor)')
    .option('--keep-programs', 'leave the processes running (a later supervisor re-attaches to them)')
    .action(async (options: { keepPrograms?: boolean }, command: Command) => {
      await clientFor(locationOf(command), ctx).shutdown({ stopPrograms: options.keepPrograms !== true });
      ctx.print('Shut down');
    });
}

export function definePid(command: Command, ctx: CliContext): Command {
  return addLocationOptions(command)
    .description("print the supervisor's pid")
    .action(async (_options: unknown, command: Command) => {
      ctx.print(String((await clientFor(locationOf(command), ctx).status()).pid));
    });
}
