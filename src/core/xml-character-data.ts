/**
 * Character data and attribute values as a conforming XML parser reports them (line ends
 * normalised, the five predefined entities and character references replaced), for the strict
 * hand-written parser of the marshalled XML format. No other entity exists: there is no DTD.
 *
 * One left-to-right pass over the UTF-8 bytes, in place (every reference is longer than the
 * character it stands for): linear, and fast even on tens of megabytes of dense references.
 */

/** Builds the error thrown on bad input (the caller's own error type and message prefix). */
export type Fail = (reason: string) => Error;

const AMPERSAND = 0x26;
const SEMICOLON = 0x3b;
const HASH = 0x23;
const LOWER_X = 0x78;
const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;

/** Longest reference read (`&#x0000010FFFF;`: XML allows leading zeros, more are not worth reading). */
const MAX_REFERENCE_LENGTH = 16;

function isXmlCharCode(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

function shown(bytes: Buffer, from: number, to: number): string {
  return JSON.stringify(bytes.toString('utf8', from, Math.min(to, from + 20)));
}

/** Writes `code` as UTF-8 at `at`; returns the index after it. */
function writeUtf8(bytes: Buffer, at: number, code: number): number {
  if (code < 0x80) {
    bytes[at] = code;
    return at + 1;
  }
  if (code < 0x800) {
    bytes[at] = 0xc0 | (code >> 6);
    bytes[at + 1] = 0x80 | (code & 0x3f);
    return at + 2;
  }
  if (code < 0x10000) {
    bytes[at] = 0xe0 | (code >> 12);
    bytes[at + 1] = 0x80 | ((code >> 6) & 0x3f);
    bytes[at + 2] = 0x80 | (code & 0x3f);
    return at + 3;
  }
  bytes[at] = 0xf0 | (code >> 18);
  bytes[at + 1] = 0x80 | ((code >> 12) & 0x3f);
  bytes[at + 2] = 0x80 | ((code >> 6) & 0x3f);
  bytes[at + 3] = 0x80 | (code & 0x3f);
  return at + 4;
}

/** Whether the bytes at `at`, before `limit`, spell `word` (ASCII). */
function spells(bytes: Buffer, at: number, word: string, limit: number): boolean {
  if (at + word.length > limit) return false;
  for (let i = 0; i < word.length; i++) {
    if (bytes[at + i] !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The predefined entity whose name starts at `at` (after '&'): its character, plus its length
 * (name and ';') times 256; 0 if none.
 */
function predefinedEntity(bytes: Buffer, at: number): number {
  const limit = bytes.length;
  switch (bytes[at]) {
    case 0x6c: // l
      return spells(bytes, at, 'lt;', limit) ? 0x3c | (3 << 8) : 0;
    case 0x67: // g
      return spells(bytes, at, 'gt;', limit) ? 0x3e | (3 << 8) : 0;
    case 0x61: // a
      if (spells(bytes, at, 'amp;', limit)) return 0x26 | (4 << 8);
      return spells(bytes, at, 'apos;', limit) ? 0x27 | (5 << 8) : 0;
    case 0x71: // q
      return spells(bytes, at, 'quot;', limit) ? 0x22 | (5 << 8) : 0;
    default:
      return 0;
  }
}

/** One pass over UTF-8 bytes, writing the decoded text in place over the bytes already read. */
class InPlaceDecoder {
  private read = 0;
  private write = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly fail: Fail,
  ) {}

  /** Decodes; returns the length of the decoded bytes. `attribute`: tabs and line ends become spaces too. */
  run(attribute: boolean): number {
    const bytes = this.bytes;
    const length = bytes.length;
    while (this.read < length) {
      const byte = bytes[this.read] as number;
      if (byte === AMPERSAND) {
        this.reference();
      } else if (byte === CR) {
        bytes[this.write++] = attribute ? SPACE : LF;
        this.read += bytes[this.read + 1] === LF ? 2 : 1;
      } else {
        bytes[this.write++] = attribute && (byte === LF || byte === TAB) ? SPACE : byte;
        this.read++;
      }
    }
    return this.write;
  }

  /** Replaces the reference starting at the '&' under the read index. */
  private reference(): void {
    const bytes = this.bytes;
    const amp = this.read;
    const predefined = predefinedEntity(bytes, amp + 1);
    if (predefined !== 0) {
      bytes[this.write++] = predefined & 0xff;
      this.read = amp + 1 + (predefined >> 8);
      return;
    }
    let end = amp + 1;
    const limit = Math.min(bytes.length, amp + MAX_REFERENCE_LENGTH);
    while (end < limit && bytes[end] !== SEMICOLON && bytes[end] !== AMPERSAND) end++;
    const fail = this.fail;
    if (bytes[end] !== SEMICOLON) {
      throw fail(`'&' that starts no entity or character reference near ${shown(bytes, amp, end + 1)}`);
    }
    if (bytes[amp + 1] !== HASH) {
      throw fail(`entity ${shown(bytes, amp, end + 1)} is not allowed (only &lt; &gt; &amp; &quot; &apos;)`);
    }
    const hex = bytes[amp + 2] === LOWER_X;
    const first = amp + (hex ? 3 : 2);
    let code = 0;
    for (let at = first; at < end; at++) {
      const digit = digitValue(bytes[at] as number, hex);
      if (digit < 0) throw fail(`bad character reference ${shown(bytes, amp, end + 1)}`);
      code = Math.min(code * (hex ? 16 : 10) + digit, 0x110000);
    }
    if (end === first) throw fail(`bad character reference ${shown(bytes, amp, end + 1)}`);
    if (!isXmlCharCode(code)) {
      throw fail(`character reference ${shown(bytes, amp, end + 1)} names a character XML cannot carry`);
    }
    this.read = end + 1;
    this.write = writeUtf8(bytes, this.write, code);
  }
}

function digitValue(byte: number, hex: boolean): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (!hex) return -1;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

export interface DecodeOptions {
  /** Then also replace `&lt;` `&gt;` `&amp;` in the decoded text (see unescapeLtGtAmp), in the same buffer. */
  readonly unescapeLtGtAmp?: boolean;
}

/** Text already checked to hold only XML characters. */
function decode(raw: string, attribute: boolean, fail: Fail, options: DecodeOptions): string {
  const special =
    raw.includes('&') || raw.includes('\r') || (attribute && (raw.includes('\n') || raw.includes('\t')));
  if (!special) return options.unescapeLtGtAmp ? unescapeLtGtAmp(raw) : raw;
  const bytes = Buffer.from(raw, 'utf8');
  let length = new InPlaceDecoder(bytes, fail).run(attribute);
  if (options.unescapeLtGtAmp) length = unescapeLtGtAmpInPlace(bytes, length);
  return bytes.toString('utf8', 0, length);
}

/** Character data between tags: CR LF and CR become LF, references are replaced. */
export function decodeCharacterData(raw: string, fail: Fail, options: DecodeOptions = {}): string {
  return decode(raw, false, fail, options);
}

/** An attribute value (between its quotes): tabs and line ends become spaces, references are replaced. */
export function decodeAttributeValue(raw: string, fail: Fail): string {
  return decode(raw, true, fail, {});
}

/**
 * Replaces `&lt;`, `&gt;` and `&amp;` in one pass, which gives the same text as Python's
 * saxutils.unescape (three replace calls in that order): the patterns cannot overlap and none of
 * their characters can start another.
 */
export function unescapeLtGtAmp(text: string): string {
  if (!text.includes('&')) return text;
  const bytes = Buffer.from(text, 'utf8');
  return bytes.toString('utf8', 0, unescapeLtGtAmpInPlace(bytes, bytes.length));
}

/** unescapeLtGtAmp on the first `length` UTF-8 bytes, in place; returns the new length. */
function unescapeLtGtAmpInPlace(bytes: Buffer, length: number): number {
  let write = 0;
  let read = 0;
  while (read < length) {
    const byte = bytes[read] as number;
    if (byte === AMPERSAND) {
      if (spells(bytes, read + 1, 'lt;', length)) {
        bytes[write++] = 0x3c;
        read += 4;
        continue;
      }
      if (spells(bytes, read + 1, 'gt;', length)) {
        bytes[write++] = 0x3e;
        read += 4;
        continue;
      }
      if (spells(bytes, read + 1, 'amp;', length)) {
        bytes[write++] = AMPERSAND;
        read += 5;
        continue;
      }
    }
    bytes[write++] = byte;
    read++;
  }
  return write;
}
