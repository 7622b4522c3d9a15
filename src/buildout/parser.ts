/**
 * The buildout configuration parser (profiles.md §1.1–1.2): one file's text → its sections, each a
 * map of option key → raw value with the line it came from. Line based, not ConfigParser:
 * column-0 `#`/`;` comments, inline and block continuation modes, `key += v` / `key -= v` kept as
 * keys `"key +"` / `"key -"`, reopened sections merged, conditional headers `[name:EXPR]`.
 * Syntax errors are collected and reported together with file:line and what is wrong, never the
 * text of the line: the file may not be a profile at all (`extends = file:///etc/shadow`), and a
 * node reports these errors to the master (docs/buildout.md, "Errors").
 */
import { SlapError } from '../core/errors.ts';
import { evaluateCondition } from './conditions.ts';
import { PyExprError } from './py-expr.ts';

/** Where a raw value was written. `line` is 1-based (0 for values that come from no file). */
export interface Source {
  readonly file: string;
  readonly line: number;
}

export interface RawOption {
  value: string;
  source: Source;
}

/** Option key (operator included, e.g. `"parts +"`) → raw value, in first-definition order. */
export type RawSection = Map<string, RawOption>;
/** Section name → its raw options. */
export type RawConfig = Map<string, RawSection>;

// Lines are split at \n, \r\n and \r only (as Python reads files): `[^]` rather than `.`, which
// would stop at U+2028/U+2029.
const SECTION_HEADER = /^\[\s*([^\s#[\]:;{}]+)\s*(?::([^#;]*))?\s*\]\s*([#;][^]*)?$/;
const OPTION_START = /^([^\s{}[\]=:]+\s*[-+]?)=([^]*)$/;
const LEADING_BLANK_LINES = /^(?:[^\S\n]*\n)+/;

function isSpace(char: string | undefined): boolean {
  return char === undefined || /\s/.test(char);
}

/**
 * Python's `textwrap.dedent`: removes the whitespace prefix common to all non-blank lines. Lines
 * are split at `\n` only, as Python's `re.MULTILINE` does (a JavaScript `m` flag would also split
 * at U+2028/U+2029).
 */
export function dedent(text: string): string {
  const lines = text.split('\n').map((line) => (/^[ \t]+$/.test(line) ? '' : line));
  let margin: string | undefined;
  for (const line of lines) {
    const match = /^([ \t]*)[^ \t]/.exec(line);
    if (!match) continue;
    const indent = match[1] ?? '';
    if (margin === undefined) margin = indent;
    else if (indent.startsWith(margin)) continue;
    else if (margin.startsWith(indent)) margin = indent;
    else {
      let i = 0;
      while (i < margin.length && i < indent.length && margin[i] === indent[i]) i++;
      margin = margin.slice(0, i);
    }
  }
  if (!margin) return lines.join('\n');
  return lines.map((line) => (line.startsWith(margin) ? line.slice(margin.length) : line)).join('\n');
}

export interface ParseOptions {
  /** Evaluates `[name:EXPR]` conditions (default: `evaluateCondition`). */
  evaluateCondition?: (expression: string) => boolean;
  /** Told of what buildout accepts silently but is likely a mistake (a `k +=` repeated in a section). */
  onWarning?: (message: string) => void;
}

/** What is wrong with a line that is neither an option, a section header nor a comment (not its text). */
function describeBadLine(line: string): string {
  const what = 'not an option, a section header or a comment';
  if (/^[^\s{}[\]=:]+\s*:/.test(line)) return `${what} (written \`key: value\`? options are \`key = value\`)`;
  if (line.startsWith('[')) return `${what} (a section header is \`[name]\` alone on its line)`;
  return what;
}

/** Parses the text of one profile file. `file` names it in errors and sources. */
export function parseProfile(text: string, file: string, options: ParseOptions = {}): RawConfig {
  const evaluate = options.evaluateCondition ?? evaluateCondition;
  const sections: RawConfig = new Map();
  const errors: string[] = [];
  let current: RawSection | undefined;
  let optionName: string | undefined;
  let blockMode = false;
  let keep = true; // the current section's condition
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  lines.forEach((rawLine, index) => {
    const lineNo = index + 1;
    let line = rawLine;
    const first = line[0];
    if (first === '#' || first === ';') return;
    if (isSpace(first) && current && optionName !== undefined) {
      if (!keep) return;
      const option = current.get(optionName);
      if (!option) return;
      if (blockMode) line = line.trimEnd();
      else {
        line = line.trim();
        if (line === '') return;
      }
      option.value = `${option.value}\n${line}`;
      return;
    }
    const header = SECTION_HEADER.exec(line);
    if (header) {
      keep = true;
      const name = header[1] ?? '';
      const expression = header[2];
      optionName = undefined;
      if (expression !== undefined && expression.trim() !== '') {
        try {
          keep = evaluate(expression);
        } catch (error) {
          const reason = error instanceof PyExprError ? error.message : String(error);
          throw new SlapError(
            'SLAP_ERR_PROFILE_SYNTAX',
            `${file}:${lineNo}: cannot evaluate the condition of section [${name}]: ${reason}`,
            {
              details: { file, line: lineNo, section: name },
              hint: 'Conditions support PEP 508 markers and a Python subset (and/or/not, comparisons, python3, linux, bits64, platform.machine(), sys.version_info).',
            },
          );
        }
        if (!keep) {
          current = undefined;
          return;
        }
      }
      current = sections.get(name);
      if (!current) {
        current = new Map();
        sections.set(name, current);
      }
      return;
    }
    if (!current) {
      if (line.trim() === '' || !keep) return;
      errors.push(`${file}:${lineNo}: option outside of any section`);
      return;
    }
    if (line.startsWith('=>')) line = `<part-dependencies> = ${line.slice(2)}`;
    const option = OPTION_START.exec(line);
    if (option) {
      if (!keep) return;
      optionName = (option[1] ?? '').trimEnd();
      const value = (option[2] ?? '').trim();
      const previous = current.get(optionName);
      if (previous && /[+-]$/.test(optionName)) {
        // buildout keeps only the last one (2.13 and the fork, silently).
        options.onWarning?.(
          `${file}:${lineNo}: "${optionName}=" repeats the one of line ${previous.source.line} in the same section: only this one applies`,
        );
      }
      current.set(optionName, { value, source: { file, line: lineNo } });
      blockMode = value === '';
      return;
    }
    if (optionName === undefined && line.trim() === '') return;
    errors.push(`${file}:${lineNo}: ${describeBadLine(line)}`);
  });

  if (errors.length > 0) {
    throw new SlapError(
      'SLAP_ERR_PROFILE_SYNTAX',
      errors.length === 1 ? (errors[0] as string) : `syntax errors:\n  ${errors.join('\n  ')}`,
      {
        details: { file, errors },
        hint: 'Options are written `key = value` (not `key: value`); continuation lines are indented; comments start at column 0.',
      },
    );
  }

  for (const section of sections.values()) {
    for (const option of section.values()) {
      if (isSpace(option.value[0]) && option.value !== '') {
        option.value = dedent(option.value.trimEnd()).replace(LEADING_BLANK_LINES, '');
      }
    }
  }
  return sections;
}
