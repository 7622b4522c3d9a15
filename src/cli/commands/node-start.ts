/** `slapos node start`: alias of `slapos node supervisorctl start`, as in the original slapos. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { defineStart } from '../supervisorctl-commands.ts';

export function registerNodeStart(program: Command, ctx: CliContext): void {
  defineStart(commandGroup(program, 'node').command('start'), ctx);
}
