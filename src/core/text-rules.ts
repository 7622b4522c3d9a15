/**
 * What the master accepts in the strings it stores and hands to nodes. Names (titles, compute node
 * and partition ids, software types, addresses…) end up in file names, XML documents and logs on
 * the nodes: no control characters, no path traversal, bounded length. Free text (error logs,
 * messages) may hold anything but NUL and unpaired surrogates.
 */
import { isXmlCompatible } from './xml-text.ts';

export interface TextRule {
  maxLength: number;
  /** Whether '' is accepted. */
  allowEmpty: boolean;
  /** Free text: only NUL and unpaired surrogates are refused. */
  freeText?: boolean;
}

export const TEXT_RULES = {
  title: { maxLength: 200, allowEmpty: false },
  name: { maxLength: 255, allowEmpty: false },
  optionalName: { maxLength: 255, allowEmpty: true },
  instanceGuid: { maxLength: 512, allowEmpty: true },
  url: { maxLength: 4096, allowEmpty: false },
  freeText: { maxLength: Infinity, allowEmpty: true, freeText: true },
} as const satisfies Record<string, TextRule>;

export type TextRuleName = keyof typeof TEXT_RULES;

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const TRAVERSAL = /(^|[/\\])\.\.([/\\]|$)/;

/** Why `value` breaks `rule`, or undefined when it is acceptable. */
export function textProblem(value: string, rule: TextRule): string | undefined {
  if (value.length > rule.maxLength) return `must NOT have more than ${rule.maxLength} characters`;
  if (!rule.allowEmpty && value === '') return 'must NOT be empty';
  if (rule.freeText) {
    if (value.includes('\u0000')) return 'must NOT contain NUL characters';
    if (UNPAIRED_SURROGATE.test(value)) return 'must NOT contain unpaired surrogates';
    return undefined;
  }
  if (CONTROL.test(value)) return 'must NOT contain control characters';
  if (!isXmlCompatible(value)) return 'must NOT contain characters XML cannot carry';
  if (TRAVERSAL.test(value) || value === '.') return 'must NOT contain a path traversal (..)';
  return undefined;
}

/** Why a parameter dictionary cannot be stored as parameter XML, or undefined. */
export function parameterDictProblem(parameters: Record<string, unknown>): string | undefined {
  for (const [key, value] of Object.entries(parameters)) {
    if (key.length > 1024) return 'has a key longer than 1024 characters';
    if (!isXmlCompatible(key)) return `has a key that XML cannot carry (${JSON.stringify(key)})`;
    if (typeof value === 'string' && !isXmlCompatible(value)) {
      return `has a value that XML cannot carry (key ${JSON.stringify(key)})`;
    }
  }
  return undefined;
}
