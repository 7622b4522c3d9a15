import type { Command } from 'commander';

/** The command groups and their one-line descriptions (`slapos --help`). */
const GROUPS = {
  node: 'compute node commands',
  proxy: 'the local SlapOS master (proxy mode)',
  master: 'a SlapOS master in master mode (HTTPS, users, registered nodes)',
  configure: 'write configuration files',
  service: 'list, inspect, back up, restore and take over your services (instance trees)',
  computer: 'list and inspect compute nodes',
  standalone: 'a whole SlapOS (master, node agent, supervisor) in one directory',
  token: 'registration tokens for compute nodes (master mode)',
  invoice: 'your invoices and credit notes (master mode)',
  cache: 'a binary cache server (shacache and shadir) and its upload tokens',
} as const;

export type CommandGroupName = keyof typeof GROUPS;

/**
 * Returns the subcommand group `name` of `parent` (e.g. `node`, `proxy`, `service`), creating it
 * on first use, so that command files can each add one subcommand to a shared group.
 */
export function commandGroup(parent: Command, name: CommandGroupName): Command {
  return subcommandGroup(parent, name, GROUPS[name]);
}

/** The subcommand group `name` of `parent`, created with `description` on first use (`master user`). */
export function subcommandGroup(parent: Command, name: string, description: string): Command {
  const existing = parent.commands.find((command) => command.name() === name);
  if (existing) return existing;
  return parent.command(name).description(description);
}
