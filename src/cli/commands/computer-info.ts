/** `slapos computer info NODE`: a compute node, its software installations and its instances. */
import type { Command } from 'commander';
import type { SoftwareInstallationStatus } from '../../client/types.ts';
import {
  addClientOptions,
  optionalAnswer,
  restate,
  withMasterClient,
  type ClientCommandOptions,
} from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { indentBlock, oneLine } from '../text-block.ts';

export function registerComputerInfo(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'computer')
    .command('info')
    .description('get information of a compute node: its software installations and instances')
    .argument('<reference>', 'the compute node, e.g. COMP-1234');
  addClientOptions(command).action((reference: string, options: ClientCommandOptions) =>
    computerInfo(ctx, reference, options),
  );
}

async function computerInfo(
  ctx: CliContext,
  reference: string,
  options: ClientCommandOptions,
): Promise<void> {
  const [softwareInstallations, statuses, instances] = await withMasterClient(ctx, options, (client) =>
    Promise.all([
      client.listSoftwareInstallations(reference),
      optionalAnswer(ctx, 'what the node reported', () => client.listSoftwareInstallationStatuses(reference)),
      client.listComputeNodeInstances(reference),
    ]),
  ).catch(
    restate(
      'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
      `Computer ${reference} does not exist.`,
      '`slapos computer list` shows the compute nodes',
    ),
  );
  const statusOf = (url: string): SoftwareInstallationStatus | undefined =>
    statuses?.find((item) => item.software_release_uri === url);
  if (options.json) {
    // The JSON API v0's software installations, each with our extension's status (null: not available).
    ctx.printJson({
      computer_guid: reference,
      software_installation_list: softwareInstallations.map((installation) => {
        const status = statusOf(installation.software_release_uri);
        return {
          ...installation,
          status: status?.status ?? null,
          error_message: status?.error_message ?? null,
          reported_at: status?.reported_at ?? null,
        };
      }),
      instance_list: instances,
    });
    return;
  }
  const lines = [`Computer Reference: ${reference}`, `Computer Title    : ${reference}`];
  lines.push(softwareInstallations.length === 0 ? 'Software installations: none' : 'Software installations:');
  for (const installation of softwareInstallations) {
    // What the node reported (requested, building, available, failed); the requested state without it.
    const status = statusOf(installation.software_release_uri);
    lines.push(
      `  ${(status?.status ?? installation.state).padEnd(10)} ${oneLine(installation.software_release_uri)}`,
    );
    if (status?.error_message) lines.push(...indentBlock(status.error_message, '    error: ', '           '));
  }
  lines.push(instances.length === 0 ? 'Instances: none' : 'Instances:');
  for (const instance of instances) {
    const where = instance.compute_partition_id ?? '-';
    lines.push(
      `  ${oneLine(where).padEnd(10)} ${instance.state.padEnd(9)} ${oneLine(instance.title)} ${oneLine(instance.software_release_uri ?? '')}`.trimEnd(),
    );
  }
  ctx.print(lines.join('\n'));
}
