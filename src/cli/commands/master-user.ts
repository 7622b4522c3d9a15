/**
 * `slapos master user add|list|disable|certificate`: the users of a master in master mode, on its
 * directory (works while the master runs). `add` prints the user's API token once; `certificate`
 * writes a key (0600) and a certificate the user may authenticate with instead of the token.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { replaceKeyPair } from '../../lib/key-pair-files.ts';
import type { CliContext } from '../context.ts';
import { commandGroup, subcommandGroup } from '../group.ts';
import { addMasterAdminOptions, withMasterAdmin, type MasterAdminFlags } from '../master-admin-options.ts';

function userGroup(program: Command): Command {
  return subcommandGroup(commandGroup(program, 'master'), 'user', 'the users of a master in master mode');
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

export function registerMasterUser(program: Command, ctx: CliContext): void {
  const users = userGroup(program);

  addMasterAdminOptions(
    users
      .command('add')
      .description('add a user and print its API token (shown once: only its digest is stored)')
      .argument('<name>', 'user name: a lowercase letter, then lowercase letters, digits, dots or dashes')
      .option('--admin', 'the user administers the master (sees and changes everything)'),
  ).action(async (name: string, options: MasterAdminFlags & { admin?: boolean }) => {
    const added = await withMasterAdmin(ctx, options, (admin) =>
      admin.addUser({ name, admin: options.admin === true }),
    );
    if (options.json) ctx.printJson(added);
    else {
      ctx.print(added.token);
      ctx.note(`user ${added.user} added; its API token is above (it is not shown again)`);
    }
  });

  addMasterAdminOptions(users.command('list').description('list the users')).action(
    async (options: MasterAdminFlags) => {
      const list = await withMasterAdmin(ctx, options, (admin) => admin.listUsers());
      if (options.json)
        ctx.printJson(
          list.map((user) => ({
            user: user.name,
            admin: user.admin,
            disabled: user.disabled,
            created: isoTime(user.createdAt),
          })),
        );
      else if (list.length === 0) ctx.print('No user.');
      else
        ctx.print(
          list
            .map((user) =>
              [user.name, user.admin ? 'admin' : 'user', user.disabled ? 'disabled' : 'enabled'].join(' '),
            )
            .join('\n'),
        );
    },
  );

  addMasterAdminOptions(
    users
      .command('disable')
      .description('disable a user: its tokens and certificates are refused from now on')
      .argument('<name>', 'user name'),
  ).action(async (name: string, options: MasterAdminFlags) => {
    await withMasterAdmin(ctx, options, (admin) => admin.disableUser(name));
    if (options.json) ctx.printJson({ user: name, disabled: true });
    else ctx.print(`user ${name} disabled`);
  });

  addMasterAdminOptions(
    users
      .command('token')
      .description(
        "issue a new API token for a user (shown once); with --revoke-others the user's other tokens stop working",
      )
      .argument('<name>', 'user name')
      .option('--revoke-others', "delete the user's other API tokens (rotation)"),
  ).action(async (name: string, options: MasterAdminFlags & { revokeOthers?: boolean }) => {
    const issued = await withMasterAdmin(ctx, options, (admin) =>
      admin.issueUserToken(name, { revokeOthers: options.revokeOthers === true }),
    );
    if (options.json) ctx.printJson(issued);
    else {
      ctx.print(issued.token);
      ctx.note(
        `new API token of ${issued.user} above (it is not shown again)` +
          (options.revokeOthers ? `; ${issued.revoked} other token(s) revoked` : ''),
      );
    }
  });

  addMasterAdminOptions(
    users
      .command('certificate')
      .description('issue a client certificate for a user: writes PREFIX.key and PREFIX.crt (0600)')
      .argument('<name>', 'user name')
      .requiredOption(
        '--out <prefix>',
        'where to write the key and the certificate (PREFIX.key, PREFIX.crt)',
      ),
    { json: false },
  ).action(async (name: string, options: MasterAdminFlags & { out: string }) => {
    const prefix = resolve(ctx.cwd, options.out);
    const issued = await withMasterAdmin(ctx, options, (admin) => admin.issueUserCertificate(name));
    await replaceKeyPair(
      { keyFile: `${prefix}.key`, certFile: `${prefix}.crt` },
      { keyPem: issued.keyPem, certificatePem: issued.certificatePem },
    );
    ctx.print(`${prefix}.key\n${prefix}.crt`);
  });
}
