/**
 * The top-level command registrations. One file per command under this folder; each file exports a
 * `register…` function that adds itself (and its subcommands) to the program. The program loads
 * only the files of the command it runs (by its first word; all of them for `--help` or an unknown
 * word), and a command loads its implementation in its action (`await import(…)`): start-up stays
 * light (startup-imports.test.ts checks that no heavy package loads before a command runs).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

export interface CommandEntry {
  /** The first word of the command line (`node`, `service`, `request`…). */
  word: string;
  load: () => Promise<CommandRegistrar>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { word: 'node', load: async () => (await import('./node-supervisord.ts')).registerNodeSupervisord },
  { word: 'node', load: async () => (await import('./node-supervisorctl.ts')).registerNodeSupervisorctl },
  { word: 'node', load: async () => (await import('./node-status.ts')).registerNodeStatus },
  { word: 'node', load: async () => (await import('./node-start.ts')).registerNodeStart },
  { word: 'node', load: async () => (await import('./node-stop.ts')).registerNodeStop },
  { word: 'node', load: async () => (await import('./node-restart.ts')).registerNodeRestart },
  { word: 'node', load: async () => (await import('./node-tail.ts')).registerNodeTail },
  { word: 'proxy', load: async () => (await import('./proxy-start.ts')).registerProxyStart },
  { word: 'proxy', load: async () => (await import('./proxy-backup.ts')).registerProxyBackup },
  // --- master mode (src/master/master-mode.ts, master-admin.ts) ---
  { word: 'master', load: async () => (await import('./master-start.ts')).registerMasterStart },
  { word: 'master', load: async () => (await import('./master-user.ts')).registerMasterUser },
  { word: 'master', load: async () => (await import('./master-node.ts')).registerMasterNode },
  { word: 'master', load: async () => (await import('./master-backup.ts')).registerMasterBackup },
  {
    word: 'master',
    load: async () => (await import('./master-invoice-regularise.ts')).registerMasterInvoiceRegularise,
  },
  { word: 'master', load: async () => (await import('./master-invoice.ts')).registerMasterInvoice },
  { word: 'configure', load: async () => (await import('./configure-client.ts')).registerConfigureClient },
  // --- client commands (src/cli/client-config.ts) ---
  { word: 'supply', load: async () => (await import('./supply.ts')).registerSupply },
  { word: 'remove', load: async () => (await import('./remove.ts')).registerRemove },
  { word: 'request', load: async () => (await import('./request.ts')).registerRequest },
  { word: 'service', load: async () => (await import('./service-list.ts')).registerServiceList },
  { word: 'service', load: async () => (await import('./service-info.ts')).registerServiceInfo },
  { word: 'service', load: async () => (await import('./service-backup.ts')).registerServiceBackup },
  { word: 'service', load: async () => (await import('./service-backups.ts')).registerServiceBackups },
  { word: 'service', load: async () => (await import('./service-restore.ts')).registerServiceRestore },
  { word: 'service', load: async () => (await import('./service-takeover.ts')).registerServiceTakeover },
  { word: 'computer', load: async () => (await import('./computer-list.ts')).registerComputerList },
  { word: 'computer', load: async () => (await import('./computer-info.ts')).registerComputerInfo },
  { word: 'computer', load: async () => (await import('./computer-update.ts')).registerComputerUpdate },
  { word: 'token', load: async () => (await import('./token-create.ts')).registerTokenCreate },
  { word: 'invoice', load: async () => (await import('./invoice-verify.ts')).registerInvoiceVerify },
  { word: 'invoice', load: async () => (await import('./invoice-list.ts')).registerInvoiceList },
  { word: 'invoice', load: async () => (await import('./invoice-show.ts')).registerInvoiceShow },
  { word: 'buildout', load: async () => (await import('./buildout.ts')).registerBuildout },
  // --- node commands (src/cli/node-options.ts) ---
  { word: 'node', load: async () => (await import('./node-format.ts')).registerNodeFormat },
  { word: 'node', load: async () => (await import('./node-promise.ts')).registerNodePromise },
  { word: 'node', load: async () => (await import('./node-register.ts')).registerNodeRegister },
  // --- node passes (src/cli/node-pass.ts) ---
  { word: 'node', load: async () => (await import('./node-software.ts')).registerNodeSoftware },
  { word: 'node', load: async () => (await import('./node-instance.ts')).registerNodeInstance },
  { word: 'node', load: async () => (await import('./node-report.ts')).registerNodeReport },
  { word: 'node', load: async () => (await import('./node-boot.ts')).registerNodeBoot },
  { word: 'node', load: async () => (await import('./node-bang.ts')).registerNodeBang },
  { word: 'node', load: async () => (await import('./node-watchdog.ts')).registerNodeWatchdog },
  // --- the node agent and the standalone SlapOS (src/node/agent, src/standalone) ---
  { word: 'node', load: async () => (await import('./node-run.ts')).registerNodeRun },
  { word: 'standalone', load: async () => (await import('./standalone-start.ts')).registerStandaloneStart },
  { word: 'standalone', load: async () => (await import('./standalone-stop.ts')).registerStandaloneStop },
  { word: 'standalone', load: async () => (await import('./standalone-status.ts')).registerStandaloneStatus },
  { word: 'standalone', load: async () => (await import('./standalone-demo.ts')).registerStandaloneDemo },
  // --- the binary cache server (src/cache) ---
  { word: 'cache', load: async () => (await import('./cache-start.ts')).registerCacheStart },
  { word: 'cache', load: async () => (await import('./cache-token.ts')).registerCacheToken },
  { word: 'cache', load: async () => (await import('./cache-status.ts')).registerCacheStatus },
];
