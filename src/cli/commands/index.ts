/**
 * The list of top-level command registrations. One file per command under this folder; each file
 * exports a `register…` function that adds itself (and its subcommands) to the program.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { registerNodeRestart } from './node-restart.ts';
import { registerNodeStart } from './node-start.ts';
import { registerNodeStatus } from './node-status.ts';
import { registerNodeStop } from './node-stop.ts';
import { registerNodeSupervisorctl } from './node-supervisorctl.ts';
import { registerNodeSupervisord } from './node-supervisord.ts';
import { registerNodeTail } from './node-tail.ts';

export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

export const COMMANDS: readonly CommandRegistrar[] = [
  registerNodeSupervisord,
  registerNodeSupervisorctl,
  registerNodeStatus,
  registerNodeStart,
  registerNodeStop,
  registerNodeRestart,
  registerNodeTail,
];
