/**
 * Writes INI text that parseIni (and Python's ConfigParser) reads back exactly: each value on one
 * line, `%` doubled (ConfigParser interpolates `%(name)s`), and any value that could not come back
 * unchanged — a line terminator or control character, surrounding spaces the reader strips —
 * refused, so that a value never adds a line, an option or a section to the file.
 */
import { SlapError } from '../core/errors.ts';

export type IniSection = readonly (readonly [key: string, value: string])[];

/** Every Unicode line terminator, C0 and C1 control characters and DEL. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const KEY = /^[a-z][a-z0-9_-]*$/;
const SECTION = /^[a-z][a-z0-9_:./-]*$/;

/** Why `value` cannot be written as an INI value, or undefined when it round-trips. */
export function iniValueProblem(value: string): string | undefined {
  if (UNSAFE.test(value)) return 'contains a line break or a control character';
  if (Buffer.from(value, 'utf8').toString('utf8') !== value) return 'is not valid Unicode';
  if (value !== value.trim()) return 'starts or ends with white space';
  return undefined;
}

/**
 * Renders sections in order. `comment` lines go first, each prefixed by `# `. Keys and section names
 * are the program's own (checked, never escaped); values are escaped or refused with SLAP_ERR_CONFIG
 * naming the option (never the value: it may be a secret).
 */
export function renderIni(
  sections: readonly (readonly [name: string, options: IniSection])[],
  options: { comment?: readonly string[] } = {},
): string {
  const lines: string[] = [];
  for (const comment of options.comment ?? []) {
    if (UNSAFE.test(comment)) throw new Error('an INI comment must be one line');
    lines.push(`# ${comment}`);
  }
  for (const [name, entries] of sections) {
    if (!SECTION.test(name)) throw new Error(`invalid INI section name ${JSON.stringify(name)}`);
    if (lines.length > 0) lines.push('');
    lines.push(`[${name}]`);
    for (const [key, value] of entries) {
      if (!KEY.test(key)) throw new Error(`invalid INI option name ${JSON.stringify(key)}`);
      const problem = iniValueProblem(value);
      if (problem !== undefined)
        throw new SlapError('SLAP_ERR_CONFIG', `the value of ${key} in [${name}] ${problem}`);
      lines.push(`${key} = ${value.replaceAll('%', '%%')}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
