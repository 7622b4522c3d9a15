/** POSIX shell words as Python's `shlex` splits and quotes them (the wrapper recipe's rules). */
import { SlapError } from '../../../core/errors.ts';

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * `shlex.quote`: bare when only safe characters, else single-quoted. A NUL cannot be written in a
 * shell script (the shell would cut the word there): it is an error.
 */
export function shellQuote(word: string): string {
  if (word.includes('\0'))
    throw new SlapError('SLAP_ERR_PROFILE', 'a shell word cannot hold a NUL character');
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
 * Appends `exec WORD… "$@"` to a script's lines as librecipe's createWrapper lays it out: words
 * quoted, a line continued with ` \\` + tab once it reaches 40 characters.
 */
export function appendExec(out: string[], words: readonly string[]): void {
  out.push('exec');
  for (const word of [...words.map(shellQuote), '"$@"']) {
    const last = out.length - 1;
    if ((out[last] as string).length < 40) out[last] += ` ${word}`;
    else {
      out[last] += ' \\';
      out.push(`\t${word}`);
    }
  }
}

/** librecipe's createWrapper: a `#!/bin/sh -e` script exec-ing `words` with the script's arguments. */
export function execWrapperScript(words: readonly string[]): string {
  const out = ['#!/bin/sh -e'];
  appendExec(out, words);
  return `${out.join('\n')}\n`;
}
