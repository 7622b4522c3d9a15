/** `slapos node stop`: alias of `slapos node supervisorctl stop`, as in the original slapos. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { defineStop } from '../supervisorctl-commands.ts';

export function registerNodeStop(program: Command, ctx: CliContext): void {
  defineStop(commandGroup(program, 'node').command('stop'), ctx);
}
