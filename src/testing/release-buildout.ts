/** A fake software release `bin/buildout` for tests of releases that bring their own buildout. */

/**
 * A release's `bin/buildout` as small as can be: records how it was started (argv, cwd, umask,
 * environment), writes `.installed.cfg`, prints a line on each stream, and exits with the status
 * written in `<software>/exit-status` (0 without it).
 */
export const FAKE_RELEASE_BUILDOUT = `#!/bin/sh -e
software=$(dirname "$(dirname "$0")")
{
  printf 'argv0=%s\\n' "$0"
  for arg in "$@"; do printf 'arg=%s\\n' "$arg"; done
  printf 'cwd=%s\\n' "$(pwd)"
  printf 'umask=%s\\n' "$(umask)"
  env | sort | sed 's/^/env:/'
} > record.txt
printf '[buildout]\\ninstalled_develop_eggs = \\nparts = \\n' > .installed.cfg
echo "Installing instance-profile."
echo "a warning on stderr" >&2
if [ -f "$software/exit-status" ]; then
  echo "While: Installing instance-profile. Error: boom" >&2
  exit "$(cat "$software/exit-status")"
fi
`;

/** What the fake buildout recorded in `record.txt`. */
export function readRecord(text: string): {
  args: string[];
  values: Map<string, string>;
  env: Map<string, string>;
} {
  const args: string[] = [];
  const values = new Map<string, string>();
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('env:')) {
      const [key = '', ...rest] = line.slice(4).split('=');
      env.set(key, rest.join('='));
    } else if (line.startsWith('arg=')) args.push(line.slice(4));
    else {
      const [key = '', ...rest] = line.split('=');
      values.set(key, rest.join('='));
    }
  }
  return { args, values, env };
}
