/**
 * `slapos master node list|revoke`: the compute nodes of a master in master mode, on its directory
 * (works while the master runs). A revoked node's certificates are refused from its next call on.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addMasterAdminOptions, withMasterAdmin, type MasterAdminFlags } from '../master-admin-options.ts';
import { oneLine } from '../text-block.ts';

function nodeGroup(program: Command): Command {
  const master = commandGroup(program, 'master');
  const existing = master.commands.find((command) => command.name() === 'node');
  return existing ?? master.command('node').description('the compute nodes of a master in master mode');
}

export function registerMasterNode(program: Command, ctx: CliContext): void {
  const nodes = nodeGroup(program);

  addMasterAdminOptions(
    nodes.command('list').description('list the compute nodes, their owner and scope'),
  ).action(async (options: MasterAdminFlags) => {
    const list = await withMasterAdmin(ctx, options, (admin) => admin.listComputeNodes());
    if (options.json)
      ctx.printJson(
        list.map((node) => ({
          computer_guid: node.reference,
          title: node.title,
          owner: node.owner,
          allocation_scope: node.allocationScope,
          friends: node.friends,
          revoked: node.revokedAt !== null,
        })),
      );
    else if (list.length === 0) ctx.print('No compute node.');
    else
      ctx.print(
        list
          .map((node) =>
            [
              node.reference,
              node.owner ?? '-',
              node.allocationScope,
              node.revokedAt === null ? 'active' : 'revoked',
              oneLine(node.title ?? ''),
            ].join(' '),
          )
          .join('\n'),
      );
  });

  addMasterAdminOptions(
    nodes
      .command('revoke')
      .description(
        'revoke a compute node: its certificates are refused from its next call on (its services keep running)',
      )
      .argument('<node>', 'compute node id (COMP-…)'),
  ).action(async (reference: string, options: MasterAdminFlags) => {
    const { certificatesRevoked } = await withMasterAdmin(ctx, options, (admin) =>
      admin.revokeComputeNode(reference),
    );
    if (options.json)
      ctx.printJson({ computer_guid: reference, revoked: true, certificates_revoked: certificatesRevoked });
    else ctx.print(`${reference} revoked (${certificatesRevoked} certificate(s))`);
  });
}
