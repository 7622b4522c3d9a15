/** `slapos node supervisorctl status|start|stop|restart|tail|shutdown|pid`: drive the node's supervisor. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addLocationOptions } from '../supervisorctl.ts';
import {
  definePid,
  defineRestart,
  defineShutdown,
  defineStart,
  defineStatus,
  defineStop,
  defineTail,
} from '../supervisorctl-commands.ts';

export function registerNodeSupervisorctl(program: Command, ctx: CliContext): void {
  const node = commandGroup(program, 'node');
  // The location options also stand before the verb, as the original's `supervisorctl [options] verb`.
  const ctl = addLocationOptions(node.command('supervisorctl')).description(
    "control the node's supervisor (supervisorctl's verbs; names: group:name, group:*, group, all)",
  );
  defineStatus(ctl.command('status'), ctx);
  defineStart(ctl.command('start'), ctx);
  defineStop(ctl.command('stop'), ctx);
  defineRestart(ctl.command('restart'), ctx);
  defineTail(ctl.command('tail'), ctx);
  defineShutdown(ctl.command('shutdown'), ctx);
  definePid(ctl.command('pid'), ctx);
}
