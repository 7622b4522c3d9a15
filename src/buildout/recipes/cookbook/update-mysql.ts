/**
 * `slapos.cookbook:generic.mysql.wrap_update_mysql`: `output` (0700) is a service script that
 * brings a fresh MariaDB/MySQL up to date, retrying (sleeping 1 s more each time, up to 30 s)
 * until every step succeeds, then exits: `binary` (mysql_upgrade), `mysql -B` fed `init-script`,
 * then the time zones (`<dir of mysql>/mysql_tzinfo_to_sql <zoneinfo>` fed to `mysql -B mysql`),
 * with the original's messages. The original runs this loop in Python and reads the time zones
 * from pytz's copy of the tz database; here it is a POSIX shell script and the time zones are
 * the system's (`zoneinfo` option, default `/usr/share/zoneinfo`). The part owns the script.
 */
import { dirname, join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';
import { shellQuote } from './shell.ts';

export interface UpdateMysqlOptions {
  upgrade: string;
  mysql: string;
  script: string;
  zoneinfo: string;
}

/** The script's text. */
export function updateMysqlScript(o: UpdateMysqlOptions): string {
  const q = shellQuote;
  return `#!/bin/sh
# Applies mysql_upgrade, the SlapOS initialisation script and the time zones, retrying until done.
upgrade=${q(o.upgrade)}
mysql=${q(o.mysql)}
script=${q(o.script)}
tzinfo=${q(join(dirname(o.mysql), 'mysql_tzinfo_to_sql'))}
zoneinfo=${q(o.zoneinfo)}
sleep=0
while :; do
  if ! result=$("$upgrade" 2>&1); then
    printf 'Command %s failed with result:\\n%s\\n' "$upgrade" "$result"
  else
    printf 'MySQL database upgraded with result:\\n%s\\n' "$result"
    if ! result=$("$mysql" -B <"$script" 2>&1); then
      printf 'Command %s -B failed with:\\n%s\\n' "$mysql" "$result"
    else
      timezones=$(mktemp) || exit 1
      if ! "$tzinfo" "$zoneinfo" >"$timezones" 2>/dev/null; then
        printf 'Command %s %s failed\\n' "$tzinfo" "$zoneinfo"
      elif ! result=$("$mysql" -B mysql <"$timezones" 2>&1); then
        printf 'Command %s -B mysql failed with:\\n%s\\n' "$mysql" "$result"
      else
        rm -f "$timezones"
        echo 'SlapOS initialisation script succesfully applied on database.'
        exit 0
      fi
      rm -f "$timezones"
    fi
  fi
  sleep=$((sleep < 30 ? sleep + 1 : 30))
  echo "Sleeping for \${sleep}s and retrying"
  sleep "$sleep"
done
`;
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const { options } = ctx;
  const path = resolve(ctx.directories.directory, options.require('output'));
  const script = updateMysqlScript({
    upgrade: options.require('binary'),
    mysql: options.require('mysql'),
    script: options.require('init-script'),
    zoneinfo: options.get('zoneinfo') || '/usr/share/zoneinfo',
  });
  ctx.created(path);
  await writeIfChanged(path, script, 0o700);
  return [path];
}

export const wrapUpdateMysql: Recipe = { version: '1', install, update: install };
