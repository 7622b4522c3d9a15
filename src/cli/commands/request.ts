/**
 * `slapos request NAME URL [--type T] [--node k=v …] [--state S] [--slave] [--parameters k=v … |
 * --parameters-file F] [--force-serialisation xml|json-in-xml]`: request an instance (or a shared
 * instance) and print its state and connection parameters, as the original `slapos request` does.
 */
import { Option, type Command } from 'commander';
import type { Instance, InstanceStatus } from '../../client/types.ts';
import { REQUESTED_STATES, type RequestedState } from '../../core/states.ts';
import { EXIT, SlapError, isSlapError } from '../../core/errors.ts';
import {
  addClientOptions,
  optionalAnswer,
  withMasterClient,
  type ClientCommandOptions,
} from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { instanceStatusLines } from '../instance-status-text.ts';
import { parseKeyValues, readParametersFile } from '../parameter-file.ts';
import { pythonPformat } from '../python-format.ts';

const SERIALISATIONS = ['xml', 'json-in-xml'] as const;
type Serialisation = (typeof SERIALISATIONS)[number];

interface RequestOptions extends ClientCommandOptions {
  node?: string[];
  type?: string;
  state?: RequestedState;
  slave?: boolean;
  parameters?: string[];
  parametersFile?: string;
  forceSerialisation?: Serialisation;
}

export function registerRequest(program: Command, ctx: CliContext): void {
  const command = program
    .command('request')
    .description('request an instance and get status and parameters of instance')
    .argument('<reference>', 'your instance reference (its title)')
    .argument('<software_url>', 'your software url (the software release)')
    .option(
      '--node <option...>',
      "node request option 'option1=value1 option2=value2' (e.g. computer_guid=COMP-1234)",
    )
    .option('--type <software_type>', 'software type to be requested (default: default)')
    .addOption(new Option('--state <state>', 'state of the requested instance').choices(REQUESTED_STATES))
    .option('--slave', 'ask for a slave (shared) instance')
    .addOption(
      new Option(
        '--force-serialisation <serialisation>',
        'serialisation used to send the parameters',
      ).choices(SERIALISATIONS),
    )
    .addOption(
      new Option(
        '--parameters <option...>',
        "instance parameters, in the form 'option1=value1 option2=value2'",
      ).conflicts('parametersFile'),
    )
    .addOption(
      new Option(
        '--parameters-file <path>',
        'instance parameters, in a file: parameter XML if it ends in .xml, else a JSON object',
      ).conflicts('parameters'),
    );
  addClientOptions(command).action((reference: string, softwareUrl: string, options: RequestOptions) =>
    request(ctx, reference, softwareUrl, options),
  );
}

async function request(
  ctx: CliContext,
  reference: string,
  softwareUrl: string,
  options: RequestOptions,
): Promise<void> {
  if (reference.trim() === '') throw new SlapError('SLAP_ERR_USAGE', 'the instance reference is empty');
  if (softwareUrl.trim() === '') throw new SlapError('SLAP_ERR_USAGE', 'the software release URL is empty');
  const slaParameters = slaFromNodeOptions(options.node);
  let parameters: Record<string, unknown> =
    options.parametersFile === undefined
      ? parseKeyValues(options.parameters, '--parameters')
      : readParametersFile(options.parametersFile, ctx.cwd);
  if (options.forceSerialisation === 'json-in-xml' && !isJsonInXml(parameters)) {
    parameters = { _: JSON.stringify(parameters) };
  }

  let instance: Instance;
  let status: InstanceStatus | undefined;
  try {
    ({ instance, status } = await withMasterClient(ctx, options, async (client) => {
      ctx.note(`Requesting ${reference} as instance of ${softwareUrl}...`);
      const instance = await client.requestInstance({
        title: reference,
        softwareReleaseUri: softwareUrl,
        ...(options.type === undefined ? {} : { softwareType: options.type }),
        parameters,
        shared: options.slave === true,
        ...(options.state === undefined ? {} : { state: options.state }),
        slaParameters,
      });
      const guid = instance.instance_guid;
      // A destroyed instance may already be gone from the master: nothing left to report on.
      if (instance.state === 'destroyed') return { instance, status: undefined };
      return {
        instance,
        status: await optionalAnswer(ctx, 'the instance status', () => client.getInstanceStatus(guid)),
      };
    }));
  } catch (error) {
    if (isSlapError(error) && error.code === 'SLAP_ERR_NOT_READY') {
      ctx.note(
        'Instance requested. Master is provisioning it. Please rerun in a couple of minutes to get connection information.',
      );
      ctx.exitCode = EXIT.notReady;
      return;
    }
    throw error;
  }
  if (options.json) {
    // The instance document as the JSON API v0 gives it, plus our extension's key (null: not available).
    ctx.printJson({ ...instance, instance_status: status ?? null });
    return;
  }
  ctx.print(
    [
      'Instance requested.',
      `State is : ${instance.state}.`,
      ...(status ? instanceStatusLines(status) : []),
      'Connection parameters of instance are:',
      pythonPformat(readableConnectionParameters(instance.connection_parameters)),
      'You can rerun the command to get up-to-date information.',
    ].join('\n'),
  );
}

/** `--node computer_guid=COMP-1 retention_delay=7` → SLA parameters (`retention_delay` is a number). */
function slaFromNodeOptions(words: string[] | undefined): Record<string, string | number> {
  const sla: Record<string, string | number> = parseKeyValues(words, '--node');
  const delay = sla.retention_delay;
  if (typeof delay === 'string') {
    const days = Number(delay);
    if (delay.trim() === '' || !Number.isFinite(days)) {
      throw new SlapError(
        'SLAP_ERR_USAGE',
        `--node: retention_delay must be a number of days, got ${JSON.stringify(delay)}`,
      );
    }
    sla.retention_delay = days;
  }
  return sla;
}

function isJsonInXml(parameters: Record<string, unknown>): boolean {
  const keys = Object.keys(parameters);
  return keys.length === 1 && keys[0] === '_';
}

/**
 * Connection parameters published as JSON-in-XML (one `_` key holding JSON text) are shown decoded,
 * as the original does for software releases with that serialisation.
 */
export function readableConnectionParameters(parameters: Record<string, unknown>): unknown {
  const serialised = parameters._;
  if (!isJsonInXml(parameters) || typeof serialised !== 'string') return parameters;
  try {
    return JSON.parse(serialised) as unknown;
  } catch {
    return parameters;
  }
}
