/** `slapos node tail`: alias of `slapos node supervisorctl tail`, as in the original slapos. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { defineTail } from '../supervisorctl-commands.ts';

export function registerNodeTail(program: Command, ctx: CliContext): void {
  defineTail(commandGroup(program, 'node').command('tail'), ctx);
}
