/** `slapos node restart`: alias of `slapos node supervisorctl restart`, as in the original slapos. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { defineRestart } from '../supervisorctl-commands.ts';

export function registerNodeRestart(program: Command, ctx: CliContext): void {
  defineRestart(commandGroup(program, 'node').command('restart'), ctx);
}
