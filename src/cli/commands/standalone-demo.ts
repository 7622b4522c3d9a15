/**
 * `slapos standalone demo` (what `npm start` runs): start the standalone SlapOS, supply
 * examples/hello, request an instance and print its connection parameters once it answers.
 */
import type { Command } from 'commander';
import { performance } from 'node:perf_hooks';
import type { DemoEvent } from '../../standalone/demo.ts';
import type { CliContext } from '../context.ts';
import {
  partitionCount,
  standaloneCommand,
  standaloneDir,
  type StandaloneCommandOptions,
} from '../standalone-options.ts';
import { describeStep } from './standalone-start.ts';

interface DemoOptions extends StandaloneCommandOptions {
  name?: string;
  title?: string;
  partitions?: number;
}

const PHASES: Record<string, string> = {
  building: 'Software release: building…',
  available: 'Software release: available.',
  pending: 'Instance: waiting for its turn…',
  'waiting-software': 'Instance: waiting for the software release…',
  processing: 'Instance: deploying (running its profile, starting its services, checking its promises)…',
  started: 'Instance: started, its promises pass.',
  'promise-failed': 'Instance: a promise fails, retrying…',
};

export function registerStandaloneDemo(program: Command, ctx: CliContext): void {
  standaloneCommand(
    program,
    'demo',
    'start the standalone SlapOS, deploy examples/hello and print its URL (what `npm start` does)',
  )
    .option('--name <name>', 'who the hello service greets (its `name` parameter)', 'World')
    .option('--title <title>', 'the instance title', 'hello')
    .option('--partitions <n>', 'number of partitions of a new standalone (default 10)', partitionCount)
    .option('--json', 'print the result as JSON')
    .action(async (options: DemoOptions) => {
      const started = performance.now();
      const seconds = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
      const onEvent = (event: DemoEvent): void => {
        switch (event.type) {
          case 'standalone':
            ctx.note(describeStep(event.step));
            return;
          case 'supplied':
            ctx.note(`Supplied ${event.url}`);
            return;
          case 'requested':
            ctx.note(`Requested instance "${event.title}" (name=${event.name}) on ${event.partitionId}`);
            return;
          case 'software':
          case 'partition': {
            const line =
              PHASES[event.phase] ??
              `${event.type === 'software' ? 'Software release' : 'Instance'}: ${event.phase}`;
            ctx.note(
              `[${seconds()}] ${line}${event.message ? ` (${event.message.split('\n')[0] ?? ''})` : ''}`,
            );
            return;
          }
          case 'waiting-url':
            ctx.note(`[${seconds()}] Published ${event.url}; waiting for it to answer…`);
            return;
        }
      };
      const { runDemo } = await import('../../standalone/demo.ts');
      const result = await runDemo(standaloneDir(ctx, options), {
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.title === undefined ? {} : { title: options.title }),
        ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
        // With --json only the warnings are told (on stderr).
        onEvent: (event) => {
          if (!options.json) onEvent(event);
          else if (event.type === 'standalone' && event.step.step === 'root') onEvent(event);
        },
      });
      if (options.json) {
        ctx.printJson({
          dir: result.standalone.dir,
          master_url: result.standalone.masterUrl,
          panel_url: `${result.standalone.masterUrl}/panel/`,
          computer_guid: result.standalone.computerGuid,
          software_release_uri: result.softwareUrl,
          title: result.title,
          compute_partition_id: result.partitionId,
          connection_parameters: result.connectionParameters,
          answer: result.answer,
        });
        return;
      }
      const { config } = result.standalone;
      const lines = [
        '',
        `Instance "${result.title}" is ready (${seconds()}). Its connection parameters:`,
        ...Object.entries(result.connectionParameters).map(([key, value]) => `  ${key} = ${String(value)}`),
        '',
        `  $ curl ${String(result.connectionParameters.url)}`,
        `  ${result.answer}`,
        '',
        `Web panel: ${result.standalone.masterUrl}/panel/  (sign in with the token in ${result.standalone.tokenFile})`,
        '',
        'Request another instance, greeting someone else:',
        `  npx slapos request hello-alice ${result.softwareUrl} --parameters name=Alice --cfg ${config}`,
        `Status: npx slapos standalone status    Stop: npx slapos standalone stop`,
      ];
      ctx.print(lines.join('\n'));
    });
}
