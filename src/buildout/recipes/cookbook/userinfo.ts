/**
 * `slapos.cookbook:userinfo`: during init, sets the POSIX identity of the user running the build:
 * `pw-name`, `pw-uid`, `pw-gid`, `pw-dir`, `pw-shell` (its passwd entry) and `gr-name`, `gr-gid`
 * (the process's group). The group name comes from the group database (`/etc/group`, else
 * `getent group`, which also asks NSS). Install does nothing.
 */
import { readFile } from 'node:fs/promises';
import { userInfo, type UserInfo } from 'node:os';
import type { Recipe, RecipeContext } from '../../recipe.ts';

/** The name of group `gid` in an `/etc/group` text, if listed. */
export function groupNameIn(text: string, gid: number): string | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 3 && fields[2] === String(gid) && fields[0]) return fields[0];
  }
  return undefined;
}

async function groupName(ctx: RecipeContext, gid: number): Promise<string> {
  const listed = groupNameIn(await readFile('/etc/group', 'utf8').catch(() => ''), gid);
  if (listed !== undefined) return listed;
  const result = await ctx.exec('getent', ['group', String(gid)]).catch(() => undefined);
  const name = result?.exitCode === 0 ? groupNameIn(result.stdout, gid) : undefined;
  if (name === undefined)
    throw ctx.error(`no group has the id ${gid} (getgrgid)`, { code: 'SLAP_ERR_CONFIG' });
  return name;
}

export const userinfo: Recipe = {
  version: '1',
  async init(ctx) {
    let user: UserInfo<string>;
    try {
      user = userInfo();
    } catch (error) {
      throw ctx.error(`the running user has no passwd entry: ${(error as Error).message}`, {
        code: 'SLAP_ERR_CONFIG',
        cause: error,
      });
    }
    const gid = process.getgid?.() ?? user.gid;
    const values: Record<string, string> = {
      'pw-name': user.username,
      'pw-uid': String(user.uid),
      'pw-gid': String(user.gid),
      'pw-dir': user.homedir,
      'pw-shell': user.shell ?? '',
      'gr-name': await groupName(ctx, gid),
      'gr-gid': String(gid),
    };
    for (const [key, value] of Object.entries(values)) ctx.options.set(key, value);
  },
  install() {
    return [];
  },
  update() {
    return undefined;
  },
};
