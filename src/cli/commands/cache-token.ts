/**
 * `slapos cache token create|list|revoke --dir DIR`: the upload tokens of a cache server (works
 * while it runs). A token is shown once (or written to `--output`, 0600); the server keeps only
 * its digest. Revoking `initial` also removes DIR/upload.token.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup, subcommandGroup } from '../group.ts';

interface TokenFlags {
  dir: string;
  json?: boolean;
}

function tokenGroup(program: Command): Command {
  return subcommandGroup(commandGroup(program, 'cache'), 'token', 'the upload tokens of a cache server');
}

function withDir(command: Command): Command {
  return command
    .requiredOption('--dir <dir>', 'the cache server directory (slapos cache start --dir)')
    .option('--json', 'print the result as JSON');
}

export function registerCacheToken(program: Command, ctx: CliContext): void {
  const tokens = tokenGroup(program);

  withDir(
    tokens
      .command('create')
      .description('make an upload token and print it (shown once: only its digest is stored)')
      .option('--label <label>', 'a name to list and revoke it by (default: node-<time>)')
      .option('--output <file>', 'write the token to FILE (mode 0600) instead of printing it'),
  ).action(async (flags: TokenFlags & { label?: string; output?: string }) => {
    const { addUploadToken } = await import('../../cache/cache-admin.ts');
    const label = flags.label ?? `node-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const made = await addUploadToken(resolve(ctx.cwd, flags.dir), {
      label,
      output: flags.output === undefined ? undefined : resolve(ctx.cwd, flags.output),
    });
    if (flags.json) ctx.printJson(made);
    else if (made.token !== undefined) {
      ctx.print(made.token);
      ctx.note(`upload token ${made.label} made; it is above (it is not shown again)`);
    } else ctx.print(`upload token ${made.label} written to ${made.file}`);
  });

  withDir(
    tokens.command('list').description('list the upload tokens (labels and dates, never the tokens)'),
  ).action(async (flags: TokenFlags) => {
    const { listUploadTokens } = await import('../../cache/cache-admin.ts');
    const list = await listUploadTokens(resolve(ctx.cwd, flags.dir));
    if (flags.json) ctx.printJson(list.map((token) => ({ label: token.label, created: token.createdAt })));
    else if (list.length === 0) ctx.print('No upload token.');
    else ctx.print(list.map((token) => `${token.label}  ${token.createdAt}`).join('\n'));
  });

  withDir(
    tokens
      .command('revoke')
      .description('revoke an upload token: it is refused from now on')
      .argument('<label>', 'the label of the token'),
  ).action(async (label: string, flags: TokenFlags) => {
    const { removeUploadToken } = await import('../../cache/cache-admin.ts');
    await removeUploadToken(resolve(ctx.cwd, flags.dir), label);
    if (flags.json) ctx.printJson({ label, revoked: true });
    else ctx.print(`upload token ${label} revoked`);
  });
}
