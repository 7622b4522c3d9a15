/**
 * Merging of sections (profiles.md §1.4): `update(d1, d2)` lays file d2 over d1; `updateSection`
 * resolves `key +=` / `key -=` of s2 against s2's own `key`, else s1's, else the empty string, and
 * then lets every remaining key of s2 override s1. Both mutate and return their first argument.
 */
import type { RawConfig, RawOption, RawSection, Source } from './parser.ts';

export const PROFILE_BASE_LOCATION = '_profile_base_location_';
const BASE_LOCATION_PLACEHOLDER = '${:_profile_base_location_}';

function sortKey(key: string): [string, string] {
  return [key.replace(/[ +]+$/, ''), key.slice(-1)];
}

function compareKeys(a: string, b: string): number {
  const [a0, a1] = sortKey(a);
  const [b0, b1] = sortKey(b);
  if (a0 !== b0) return a0 < b0 ? -1 : 1;
  return a1 < b1 ? -1 : a1 > b1 ? 1 : 0;
}

export function copySection(section: RawSection): RawSection {
  const copy: RawSection = new Map();
  for (const [key, option] of section) copy.set(key, { value: option.value, source: option.source });
  return copy;
}

/** The key an operator key applies to (`"parts +"` → `"parts"`), or undefined for a plain key. */
export function operatorTarget(key: string): { target: string; op: '+' | '-' } | undefined {
  if (key.endsWith('+')) return { target: key.replace(/[ +]+$/, ''), op: '+' };
  if (key.endsWith('-')) return { target: key.replace(/[ -]+$/, ''), op: '-' };
  return undefined;
}

function implicit(source: Source): RawOption {
  return { value: '', source };
}

function hasOperators(section: RawSection): boolean {
  for (const key of section.keys()) if (key.endsWith('+') || key.endsWith('-')) return true;
  return false;
}

export function updateSection(s1: RawSection, s2: RawSection): RawSection {
  if (!hasOperators(s2)) {
    for (const [key, option] of s2) s1.set(key, option);
    return s1;
  }
  const local = copySection(s2);
  for (const key of [...local.keys()].sort(compareKeys)) {
    const operator = operatorTarget(key);
    if (!operator) continue;
    const change = local.get(key) as RawOption;
    const base = local.get(operator.target) ?? s1.get(operator.target) ?? implicit(change.source);
    let value: string;
    if (operator.op === '+') value = [...base.value.split('\n'), ...change.value.split('\n')].join('\n');
    else {
      const removed = new Set(change.value.split('\n'));
      value = base.value
        .split('\n')
        .filter((line) => !removed.has(line))
        .join('\n');
    }
    local.set(operator.target, { value, source: change.source });
    local.delete(key);
  }
  for (const [key, option] of local) s1.set(key, option);
  return s1;
}

/** Lays d2 over d1. d2's sections may be moved into d1: do not use d2 afterwards. */
export function updateConfig(d1: RawConfig, d2: RawConfig): RawConfig {
  for (const [name, section] of d2) {
    const existing = d1.get(name);
    if (existing) updateSection(existing, section);
    else d1.set(name, section);
  }
  return d1;
}

/**
 * The fork's `_profile_base_location_` rule (§1.3.1): each section of a freshly parsed file that
 * mentions `${:_profile_base_location_}` in any raw value gets that option set to the file's base.
 */
export function injectBaseLocation(config: RawConfig, base: string, file: string): void {
  for (const section of config.values()) {
    let uses = false;
    for (const option of section.values()) if (option.value.includes(BASE_LOCATION_PLACEHOLDER)) uses = true;
    if (uses) section.set(PROFILE_BASE_LOCATION, { value: base, source: { file, line: 0 } });
  }
}
