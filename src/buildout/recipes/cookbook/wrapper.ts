/**
 * `slapos.cookbook:wrapper` (profiles.md §3.10, §5.2): writes a shell script (mode 0700) that
 * execs `command-line` (split like `shlex.split`, newlines being whitespace) with the script's own
 * arguments appended:
 *
 *   #!/bin/sh -e
 *   export K='v'                    (environment: K=V lines, sorted)
 *   exec /path/to/program \
 *   	--arg value "$@"
 *
 * Options done in the shell here where the original generates a Python script: `wait-for-files`
 * (wait until each exists), `pidfile` (refuse to start while the recorded process runs, then record
 * the new one), `reserve-cpu`, `sig-ign` (signals ignored by the program). `private-tmpfs` and
 * `redirect-*` need the original's Python launcher: refused, naming the section.
 * `hash-existing-files` (files that exist before the run) are hashed during init into
 * `__hash_files__`, so a change of their content changes the part; with `hash-files` too, the
 * script's path is `wrapper-path` + `-` + the md5 of those files (`${x:wrapper-path}` stays
 * unsuffixed). Update only checks that the script is still there.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { SlapError } from '../../../core/errors.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { isTrue, lines, parseEnvironment, requirePath, words, writeIfChanged } from '../common.ts';
import { appendExec, shellQuote, shellSplit } from './shell.ts';

const UNSUPPORTED_OPTIONS: Record<string, string> = {
  'private-tmpfs': 'private tmpfs mounts need user namespaces, which the original sets up from Python',
  'redirect-signal': "signal redirection is done by the original's Python launcher",
  'redirect-stdout': "output redirection is done by the original's Python launcher",
  'redirect-stderr': "output redirection is done by the original's Python launcher",
};

/** md5 over `"<length>\n" + content` of each file (librecipe's generateHashFromFiles). */
function hashFiles(ctx: RecipeContext, files: readonly string[], option: string): string {
  const hash = createHash('md5');
  for (const file of files) {
    let content: Buffer;
    try {
      content = readFileSync(resolve(ctx.directories.directory, file));
    } catch (error) {
      throw ctx.error(`cannot hash ${file}: ${(error as Error).message}`, { option, cause: error });
    }
    hash.update(`${content.length}\n`);
    hash.update(content);
  }
  return hash.digest('hex');
}

function hashedFiles(ctx: RecipeContext): string[] {
  return [...lines(ctx.options.get('hash-files')), ...lines(ctx.options.get('hash-existing-files'))].flatMap(
    (line) => line.split(/\s+/),
  );
}

function effectivePath(ctx: RecipeContext): string {
  const base = requirePath(ctx, 'wrapper-path');
  const files = hashedFiles(ctx);
  return files.length === 0 ? base : `${base}-${hashFiles(ctx, files, 'hash-files')}`;
}

function signalNames(ctx: RecipeContext): string[] {
  const names = words(ctx.options.get('sig-ign'));
  return names.map((name) => {
    const bare = name.toUpperCase().replace(/^SIG/, '');
    if (!/^[A-Z0-9]+$/.test(bare))
      throw ctx.error(`not a signal name: ${JSON.stringify(name)}`, {
        option: 'sig-ign',
        code: 'SLAP_ERR_PROFILE',
      });
    return bare;
  });
}

/** The script's text. */
export function wrapperScript(ctx: RecipeContext): string {
  let args: string[];
  try {
    args = shellSplit(ctx.options.require('command-line'));
  } catch (error) {
    if (!(error instanceof SlapError)) throw error;
    throw ctx.error(`cannot split the command line: ${error.message}`, {
      option: 'command-line',
      code: 'SLAP_ERR_PROFILE',
    });
  }
  if (args.length === 0)
    throw ctx.error('the command line is empty', { option: 'command-line', code: 'SLAP_ERR_PROFILE' });
  const out = ['#!/bin/sh -e'];
  const signals = signalNames(ctx);
  if (signals.length > 0) out.push(`trap '' ${signals.join(' ')}`);
  const environment = parseEnvironment(ctx);
  for (const key of Object.keys(environment).sort()) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw ctx.error(`not a variable name: ${JSON.stringify(key)}`, {
        option: 'environment',
        code: 'SLAP_ERR_PROFILE',
      });
    out.push(`export ${key}=${shellQuote(environment[key] ?? '')}`);
  }
  const waitFor = words(ctx.options.get('wait-for-files'));
  if (waitFor.length > 0) {
    out.push(
      `for file in ${waitFor.map(shellQuote).join(' ')}; do`,
      '  while [ ! -e "$file" ]; do sleep 1; done',
      'done',
    );
  }
  const pidfile = ctx.options.get('pidfile');
  if (pidfile) {
    out.push(
      `pidfile=${shellQuote(pidfile)}`,
      'if [ -s "$pidfile" ] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null; then',
      '  echo "Already running with pid $pid." >&2',
      '  exit 1',
      'fi',
      'echo $$ > "$pidfile"',
    );
  }
  if (isTrue(ctx.options.get('reserve-cpu'))) out.push('echo $$ >> ~/.slapos-cpu-exclusive');
  appendExec(out, args);
  return `${out.join('\n')}\n`;
}

export const wrapper: Recipe = {
  version: '1',
  init(ctx) {
    for (const [option, reason] of Object.entries(UNSUPPORTED_OPTIONS)) {
      if (ctx.options.get(option)) {
        throw ctx.error(`"${option}" is not supported: ${reason}`, {
          option,
          code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
        });
      }
    }
    const existing = lines(ctx.options.get('hash-existing-files')).flatMap((line) => line.split(/\s+/));
    if (existing.length > 0)
      ctx.options.set('__hash_files__', hashFiles(ctx, existing, 'hash-existing-files'));
  },
  async install(ctx) {
    const generated = lines(ctx.options.get('hash-files')).flatMap((line) => line.split(/\s+/));
    const prefix = realpathSync(ctx.directories.directory) + sep;
    const foreign = generated.filter((file) => {
      const path = resolve(ctx.directories.directory, file);
      return existsSync(path) && !realpathSync(path).startsWith(prefix);
    });
    if (foreign.length > 0) {
      throw ctx.error(
        `hash-files must only list files that are generated by buildout:\n  ${foreign.join('\n  ')}`,
        {
          option: 'hash-files',
          code: 'SLAP_ERR_PROFILE',
          hint: 'List files that exist before the run in hash-existing-files.',
        },
      );
    }
    const path = effectivePath(ctx);
    ctx.created(path);
    await writeIfChanged(path, wrapperScript(ctx), 0o700);
    return [path];
  },
  update(ctx) {
    const path = effectivePath(ctx);
    if (!existsSync(path)) throw ctx.error(`unstable wrapper path (${path})`);
    return undefined;
  },
};
