/** `slapos node status`: alias of `slapos node supervisorctl status`, as in the original slapos. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { defineStatus } from '../supervisorctl-commands.ts';

export function registerNodeStatus(program: Command, ctx: CliContext): void {
  defineStatus(commandGroup(program, 'node').command('status'), ctx);
}
