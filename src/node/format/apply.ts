/** Applies a format plan, action by action, in order. */
import { chmod, chown, mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import type { Host, UnixGroup, UnixUser } from './host.ts';
import { commandOf, type FormatAction } from './plan.ts';

export interface ApplyOptions {
  /** Called after each action is applied. */
  onApplied?: (action: FormatAction) => void;
  /** How long to wait for IPv6 duplicate address detection to finish (default 10 s). */
  dadTimeoutMs?: number;
}

export async function applyFormatPlan(
  actions: readonly FormatAction[],
  host: Host,
  options: ApplyOptions = {},
): Promise<void> {
  let accounts: { users: Map<string, UnixUser>; groups: Map<string, UnixGroup> } | undefined;
  const addedIpv6: { address: string; interface: string; prefixLength: number }[] = [];
  for (const action of actions) {
    switch (action.kind) {
      case 'mkdir':
        await mkdir(action.path, { recursive: true, mode: action.mode });
        await chmod(action.path, action.mode); // the umask may have removed bits
        break;
      case 'chmod':
        await chmod(action.path, action.mode);
        break;
      case 'chown': {
        accounts ??= { users: await host.users(), groups: await host.groups() };
        const user = accounts.users.get(action.user);
        const group = accounts.groups.get(action.group);
        if (!user || !group)
          throw new SlapError(
            'SLAP_ERR_SYSTEM_COMMAND',
            `user ${action.user} does not exist after creating it`,
          );
        await chown(action.path, user.uid, group.gid);
        break;
      }
      case 'groupadd':
      case 'useradd':
      case 'usermod':
        await host.run({ argv: commandOf(action) ?? [], network: false });
        if (action.kind === 'useradd')
          await host.run({ argv: ['passwd', '-l', action.user], network: false });
        accounts = undefined;
        break;
      case 'sysctl':
      case 'local-route':
        await host.run({ argv: commandOf(action) ?? [], network: true });
        break;
      case 'address':
        await host.run({ argv: commandOf(action) ?? [], network: true });
        if (action.address.includes(':')) addedIpv6.push(action);
        break;
      case 'resource-file':
        await writeFileAtomic(action.path, action.content, { mode: 0o644 });
        break;
    }
    options.onApplied?.(action);
  }
  if (addedIpv6.length > 0) await waitForDad(host, addedIpv6, options.dadTimeoutMs ?? 10_000);
}

/**
 * New IPv6 addresses are `tentative` while the kernel checks nobody else uses them. One that fails
 * the check is removed again and format fails (the original then tries random addresses; we report).
 */
async function waitForDad(
  host: Host,
  added: readonly { address: string; interface: string; prefixLength: number }[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const present = await host.addresses();
    const mine = added.map((a) => ({
      wanted: a,
      found: present.find((p) => p.address === a.address && p.ifname === a.interface),
    }));
    const failed = mine.find((m) => m.found?.dadFailed);
    if (failed) {
      const { address, prefixLength, interface: iface } = failed.wanted;
      await host.run({
        argv: ['ip', '-6', 'address', 'del', `${address}/${prefixLength}`, 'dev', iface],
        network: true,
      });
      throw new SlapError(
        'SLAP_ERR_SYSTEM_COMMAND',
        `IPv6 address ${address} is already used on the network of ${iface} (duplicate address detection failed)`,
        {
          hint: `move ${address} away from the other machine, or remove it from the format state to get another`,
        },
      );
    }
    if (!mine.some((m) => m.found?.tentative) || Date.now() > deadline) return;
    await sleep(200);
  }
}
