/** POSIX shell words as Python's `shlex` splits and quotes them (the wrapper recipe's rules). */
import { SlapError } from '../../../core/errors.ts';
import type { RecipeContext } from '../../recipe.ts';

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `shlex.quote`: bare when only safe characters, else single-quoted. */
export function shellQuote(word: string): string {
  if (word === '') return "''";
  if (SAFE.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * `shlex.split(text)` (POSIX mode, no comments): whitespace (newlines included) separates words,
 * single quotes are literal, double quotes let `\` escape only `"` and `\`, a bare `\` escapes any
 * character. Unclosed quotes and a trailing `\` are errors.
 */
export function shellSplit(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const char = text[i] as string;
    if (WHITESPACE.has(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (char === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new SlapError('SLAP_ERR_PROFILE', 'No closing quotation');
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (char === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new SlapError('SLAP_ERR_PROFILE', 'No closing quotation');
        const inner = text[i] as string;
        if (inner === '"') break;
        if (inner === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
          word += text[i + 1];
          i += 2;
        } else {
          word += inner;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (char === '\\') {
      if (i + 1 >= text.length) throw new SlapError('SLAP_ERR_PROFILE', 'No escaped character');
      word += text[i + 1];
      inWord = true;
      i += 2;
    } else {
      word += char;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * Appends `exec <args…> "$@"` to a script's lines, the words quoted and wrapped as librecipe's
 * createWrapper does (a new `\t`-indented line once the current one reaches 40 characters).
 */
export function appendExec(lines: string[], args: readonly string[]): void {
  lines.push('exec');
  for (const word of [...args.map(shellQuote), '"$@"']) {
    const last = lines.length - 1;
    if ((lines[last] as string).length < 40) lines[last] += ` ${word}`;
    else {
      lines[last] += ' \\';
      lines.push(`\t${word}`);
    }
  }
}

/** librecipe's `createWrapper(path, args)` text: `#!/bin/sh -e` and an exec of `args` plus `"$@"`. */
export function execWrapperText(args: readonly string[]): string {
  const lines = ['#!/bin/sh -e'];
  appendExec(lines, args);
  return `${lines.join('\n')}\n`;
}

/** A required option that becomes a word of a script: a NUL cannot be written in one, so it is refused. */
export function scriptWord(ctx: RecipeContext, option: string): string {
  const value = ctx.options.require(option);
  if (value.includes('\0'))
    throw ctx.error('a NUL character cannot be written in a script', { option, code: 'SLAP_ERR_PROFILE' });
  return value;
}
