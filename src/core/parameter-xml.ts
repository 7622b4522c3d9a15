/**
 * Parameter XML ("instance XML"): how SlapOS stores instance and connection parameters
 * (docs/protocol.md §3.2, schema `software_instance.xsd`).
 *
 * Encoding (Python `dict2xml` through lxml): one `<parameter id="KEY">` per key sorted by key,
 * values through Python `str()`, two-space pretty printing, single-quoted declaration, trailing
 * newline; `<instance/>` when empty. Decoding (`xml2dict`): key → text, an empty element → null,
 * a repeated key → values joined with a space, other elements ignored, empty document → {}.
 */
import { SlapError } from './errors.ts';
import { pyStr } from './python-value.ts';
import { escapeXmlAttribute, escapeXmlText, isXmlCompatible, unescapeXml } from './xml-text.ts';

const DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n";

/** Compares strings by code point, as Python sorts str (JS's default sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** Below this many keys an insertion sort is cheaper than Array.prototype.sort with a comparator. */
const INSERTION_SORT_MAX = 16;

/** The keys of `parameters` in code point order: O(n log n). */
function sortedKeys(parameters: Readonly<Record<string, unknown>>): string[] {
  const keys = Object.keys(parameters);
  if (keys.length > INSERTION_SORT_MAX) return keys.sort(compareCodePoints);
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && compareCodePoints(keys[j] as string, key) > 0) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

export function encodeParameterXml(parameters: Readonly<Record<string, unknown>>): string {
  const keys = sortedKeys(parameters);
  if (keys.length === 0) return `${DECLARATION}<instance/>\n`;
  let out = `${DECLARATION}<instance>\n`;
  for (const key of keys) {
    const value = pyStr(parameters[key]);
    if (!isXmlCompatible(key) || !isXmlCompatible(value)) {
      throw new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        `parameter ${JSON.stringify(key)} holds characters XML cannot carry`,
      );
    }
    out += `  <parameter id="${escapeXmlAttribute(key)}">${escapeXmlText(value)}</parameter>\n`;
  }
  return `${out}</instance>\n`;
}

export type ParameterDict = Record<string, string | null>;

/**
 * What `decodeParameterXml(encodeParameterXml(parameters))` gives, without the XML: values through
 * `str()`, '' as null, keys sorted.
 */
export function parametersAsStored(parameters: Readonly<Record<string, unknown>>): ParameterDict {
  const result: ParameterDict = {};
  for (const key of sortedKeys(parameters)) {
    const value = pyStr(parameters[key]);
    result[key] = value === '' ? null : value;
  }
  return result;
}

const TAG = /<(\/?)([^\s/>!?]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function attributesOf(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const match of text.matchAll(ATTRIBUTE)) {
    attributes.set(match[1] ?? '', unescapeXml(match[2] ?? match[3] ?? ''));
  }
  return attributes;
}

function malformed(reason: string): SlapError {
  return new SlapError('SLAP_ERR_INTERNAL', `malformed parameter XML: ${reason}`);
}

/** Decodes parameter XML. Throws SLAP_ERR_INTERNAL on a document that is not well formed. */
export function decodeParameterXml(xml: string | null | undefined): ParameterDict {
  const result: ParameterDict = Object.create(null) as ParameterDict;
  if (!xml) return { ...result };
  let position = 0;
  let depth = 0;
  let rootSeen = false;
  // The parameter being read (a direct child of the root) and its text before any child element.
  let current: { key: string | undefined; text: string; textDone: boolean } | undefined;
  const finish = (): void => {
    if (!current) return;
    if (current.key !== undefined) {
      const value = current.text === '' ? null : current.text;
      const previous = result[current.key];
      result[current.key] =
        previous === undefined || previous === null ? value : `${previous} ${value ?? ''}`;
    }
    current = undefined;
  };
  while (position < xml.length) {
    const next = xml.indexOf('<', position);
    const text = next < 0 ? xml.slice(position) : xml.slice(position, next);
    if (current && depth === 2 && !current.textDone) current.text += unescapeXml(text);
    else if (depth === 0 && text.trim() !== '') throw malformed('text outside the root element');
    if (next < 0) break;
    if (xml.startsWith('<?', next)) {
      const end = xml.indexOf('?>', next);
      if (end < 0) throw malformed('unterminated declaration');
      position = end + 2;
      continue;
    }
    if (xml.startsWith('<!--', next)) {
      const end = xml.indexOf('-->', next);
      if (end < 0) throw malformed('unterminated comment');
      position = end + 3;
      continue;
    }
    if (xml.startsWith('<![CDATA[', next)) {
      const end = xml.indexOf(']]>', next);
      if (end < 0) throw malformed('unterminated CDATA');
      if (current && depth === 2 && !current.textDone) current.text += xml.slice(next + 9, end);
      position = end + 3;
      continue;
    }
    TAG.lastIndex = next;
    const tag = TAG.exec(xml);
    if (!tag) throw malformed(`bad tag at offset ${next}`);
    position = TAG.lastIndex;
    const [, closing, name, attributeText, selfClosing] = tag;
    if (closing) {
      depth--;
      if (depth < 0) throw malformed('unbalanced closing tag');
      if (depth === 1) finish();
      continue;
    }
    if (depth === 0) {
      if (rootSeen) throw malformed('two root elements');
      rootSeen = true;
    } else if (depth === 1) {
      current = {
        key: name === 'parameter' ? attributesOf(attributeText ?? '').get('id') : undefined,
        text: '',
        textDone: false,
      };
    } else if (current) {
      current.textDone = true;
    }
    if (selfClosing) {
      if (depth === 1) finish();
    } else {
      depth++;
    }
  }
  if (depth !== 0 || !rootSeen) throw malformed('unterminated document');
  return { ...result };
}
