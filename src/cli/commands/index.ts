/**
 * The list of top-level command registrations. One file per command under this folder; each file
 * exports a `register…` function that adds itself (and its subcommands) to the program.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { registerBuildout } from './buildout.ts';

export type CommandRegistrar = (program: Command, ctx: CliContext) => void;

export const COMMANDS: readonly CommandRegistrar[] = [registerBuildout];
