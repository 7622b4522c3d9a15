import type { Command } from 'commander';

/**
 * Returns the subcommand group `name` of `parent` (e.g. `node`, `proxy`, `service`), creating it
 * on first use, so that command files can each add one subcommand to a shared group.
 */
export function commandGroup(parent: Command, name: string, description: string): Command {
  const existing = parent.commands.find((command) => command.name() === name);
  if (existing) return existing;
  return parent.command(name).description(description);
}
