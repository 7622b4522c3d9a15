/** Characters XML 1.0 can carry, and escaping as libxml2 (lxml) serialises text and attributes. */

const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** True if every character of `text` may appear in an XML 1.0 document. */
export function isXmlCompatible(text: string): boolean {
  return !NOT_XML_CHAR.test(text);
}

/** The index of the first character of `text` XML 1.0 cannot carry, or -1. */
export function nonXmlCharacterIndex(text: string): number {
  return text.search(NOT_XML_CHAR);
}

const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
const ATTRIBUTE_ESCAPES: Record<string, string> = {
  ...TEXT_ESCAPES,
  '"': '&quot;',
  '\n': '&#10;',
  '\t': '&#9;',
};

const TEXT_SPECIAL = /[&<>\r]/g;
const ATTRIBUTE_SPECIAL = /[&<>\r"\n\t]/g;

export function escapeXmlText(text: string): string {
  TEXT_SPECIAL.lastIndex = 0;
  if (!TEXT_SPECIAL.test(text)) return text;
  return text.replace(TEXT_SPECIAL, (char) => TEXT_ESCAPES[char] ?? char);
}

export function escapeXmlAttribute(text: string): string {
  ATTRIBUTE_SPECIAL.lastIndex = 0;
  if (!ATTRIBUTE_SPECIAL.test(text)) return text;
  return text.replace(ATTRIBUTE_SPECIAL, (char) => ATTRIBUTE_ESCAPES[char] ?? char);
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Replaces the five predefined entities and character references. Throws on anything else. */
export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);|&/g, (match, name: string | undefined) => {
    if (name === undefined) throw new Error('unescaped & in XML text');
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    const char = NAMED[name];
    if (char === undefined) throw new Error(`unknown XML entity ${match}`);
    return char;
  });
}
