/**
 * The list of top-level command registrations. One file per command under this folder; each file
 * exports a `register…` function that adds itself (and its subcommands) to the program. A command
 * loads its implementation in its action (`await import(…)`), so that start-up stays light
 * (startup-imports.test.ts checks that no heavy package loads before a command runs).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { registerComputerInfo } from './computer-info.ts';
import { registerComputerList } from './computer-list.ts';
import { registerNodeBang } from './node-bang.ts';
import { registerNodeBoot } from './node-boot.ts';
import { registerNodeFormat } from './node-format.ts';
import { registerNodeRun } from './node-run.ts';
import { registerStandaloneDemo } from './standalone-demo.ts';
import { registerStandaloneStart } from './standalone-start.ts';
import { registerStandaloneStatus } from './standalone-status.ts';
import { registerStandaloneStop } from './standalone-stop.ts';
import { registerNodeInstance } from './node-instance.ts';
import { registerNodePromise } from './node-promise.ts';
import { registerNodeReport } from './node-report.ts';
import { registerNodeRestart } from './node-restart.ts';
import { registerNodeSoftware } from './node-software.ts';
import { registerNodeStart } from './node-start.ts';
import { registerNodeStatus } from './node-status.ts';
import { registerNodeStop } from './node-stop.ts';
import { registerNodeSupervisorctl } from './node-supervisorctl.ts';
import { registerNodeSupervisord } from './node-supervisord.ts';
import { registerNodeTail } from './node-tail.ts';
import { registerNodeWatchdog } from './node-watchdog.ts';
import { registerBuildout } from './buildout.ts';
import { registerProxyStart } from './proxy-start.ts';
import { registerRemove } from './remove.ts';
import { registerRequest } from './request.ts';
import { registerServiceInfo } from './service-info.ts';
import { registerServiceList } from './service-list.ts';
import { registerSupply } from './supply.ts';

export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

export const COMMANDS: readonly CommandRegistrar[] = [
  registerNodeSupervisord,
  registerNodeSupervisorctl,
  registerNodeStatus,
  registerNodeStart,
  registerNodeStop,
  registerNodeRestart,
  registerNodeTail,
  registerProxyStart,
  // --- client commands (src/cli/client-config.ts) ---
  registerSupply,
  registerRemove,
  registerRequest,
  registerServiceList,
  registerServiceInfo,
  registerComputerList,
  registerComputerInfo,
  registerBuildout,
  // --- node commands (src/cli/node-options.ts) ---
  registerNodeFormat,
  registerNodePromise,
  // --- node passes (src/cli/node-pass.ts) ---
  registerNodeSoftware,
  registerNodeInstance,
  registerNodeReport,
  registerNodeBoot,
  registerNodeBang,
  registerNodeWatchdog,
  // --- the node agent and the standalone SlapOS (src/node/agent, src/standalone) ---
  registerNodeRun,
  registerStandaloneStart,
  registerStandaloneStop,
  registerStandaloneStatus,
  registerStandaloneDemo,
];
