/**
 * The xml_marshaller format of the legacy SLAP protocol (docs/protocol.md §3.3): every structured
 * payload of the legacy API, both ways.
 *
 * Encoding writes exactly what Python's `xml_marshaller.dumps` writes. Decoding is a small strict
 * parser, safe by construction: no DTD, no entity but the five predefined ones and character
 * references, no processing instruction, bounded depth and value count (references expanded),
 * linear time, no recursion.
 */
import { SlapError } from './errors.ts';
import { decodeAttributeValue, decodeCharacterData, unescapeLtGtAmp } from './xml-character-data.ts';
import { compareCodePoints } from './parameter-xml.ts';
import { PyNumber, pyFloatRepr, pyStr } from './python-value.ts';
import { escapeXmlAttribute, escapeXmlText, isXmlCompatible, nonXmlCharacterIndex } from './xml-text.ts';

/** A Python tuple (ip_list items, constructor arguments). */
export class PyTuple {
  constructor(readonly items: readonly MarshalValue[]) {}
}

/** A Python object of module.className, rebuilt as className(*args) then attributes set. */
export class PyObject {
  constructor(
    readonly module: string,
    readonly className: string,
    readonly args: readonly MarshalValue[],
    readonly attributes: MarshalDict,
  ) {}
}

/** A Python dict; created with a null prototype when decoded. */
export type MarshalDict = { [key: string]: MarshalValue };
export type MarshalValue =
  null | boolean | number | PyNumber | string | MarshalValue[] | PyTuple | PyObject | MarshalDict;

/** SlapOS's four classes (module `slapos.slap.slap`): the only objects decodeMarshal accepts. */
export const SLAP_MODULE = 'slapos.slap.slap';
export type SlapClassName = 'Computer' | 'ComputerPartition' | 'SoftwareRelease' | 'SoftwareInstance';
const SLAP_CLASSES: ReadonlySet<string> = new Set<SlapClassName>([
  'Computer',
  'ComputerPartition',
  'SoftwareRelease',
  'SoftwareInstance',
]);

/** Deepest nesting of values either way (the value inside `<marshal>` is at depth 1). */
export const MAX_MARSHAL_DEPTH = 100;
/** Most values a decoded document may hold, a referenced container counting in full each time. */
export const MAX_MARSHAL_VALUES = 1_000_000;
/** Python 3 refuses to convert longer digit strings to int (sys.int_info.default_max_str_digits). */
const MAX_INT_DIGITS = 4300;
/**
 * Integers at least 1e24 in magnitude are written `<long>`; Python compares an int with the float
 * 1e24 exactly, and that float is 999999999999999983222784.
 */
const LONG_THRESHOLD = BigInt(1e24);

/** Shows a hostile name or value in an error message: quoted, escaped and bounded. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

// --- encoding ---

/** xml_marshaller's own escaping of str values (saxutils.escape), before the XML serialiser's. */
function escapeMarshalString(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Strings written as they are: printable ASCII, tab and newline, but & < > (escaped twice otherwise). */
const PLAIN_ASCII = /^[\t\n\x20-\x25\x27-\x3b\x3d\x3f-\x7e]*$/;
const NON_ASCII = /[^\x00-\x7f]/gu;

/** The serialiser writes ASCII: every other character as a decimal character reference. */
function asciiCharacterReferences(text: string): string {
  NON_ASCII.lastIndex = 0;
  if (!NON_ASCII.test(text)) return text;
  return text.replace(NON_ASCII, (char) => `&#${char.codePointAt(0) ?? 0};`);
}

/** Refuses text XML cannot carry; the message shows the character, not the text (it may be a secret). */
function checkCarriable(text: string, what: string): void {
  const index = nonXmlCharacterIndex(text);
  if (index >= 0) {
    const code = (text.codePointAt(index) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `cannot marshal ${what}: it holds a character XML cannot carry (U+${code} at index ${index})`,
    );
  }
}

function describeClass(value: object): string {
  const prototype: unknown = Object.getPrototypeOf(value);
  const constructor: unknown =
    typeof prototype === 'object' && prototype !== null ? prototype.constructor : undefined;
  return typeof constructor === 'function' ? constructor.name : 'object';
}

function isPlainObject(value: object): value is MarshalDict {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype;
}

function integerElement(digits: string, magnitude: bigint): string {
  const tag = magnitude >= LONG_THRESHOLD || magnitude <= -LONG_THRESHOLD ? 'long' : 'int';
  return `<${tag}>${digits}</${tag}>`;
}

function numberElement(value: number | PyNumber): string {
  if (value instanceof PyNumber) {
    if (value.isFloat) return `<float>${pyFloatRepr(value.value)}</float>`;
    const integer = BigInt(value.source);
    return integerElement(integer.toString(), integer);
  }
  // -0 is a float, as pyRepr reads it.
  if (Number.isInteger(value) && !Object.is(value, -0)) {
    const integer = BigInt(value);
    return integerElement(integer.toString(), integer);
  }
  return `<float>${pyFloatRepr(value)}</float>`;
}

class Encoder {
  private readonly out: string[] = [];
  private lastId = 1;

  encode(value: MarshalValue): string {
    this.out.push('<marshal>');
    this.write(value, 1);
    this.out.push('</marshal>');
    return this.out.join('');
  }

  private nextId(): string {
    this.lastId += 1;
    return `i${this.lastId}`;
  }

  private write(value: MarshalValue, depth: number): void {
    if (depth > MAX_MARSHAL_DEPTH) {
      throw new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        `cannot marshal values nested deeper than ${MAX_MARSHAL_DEPTH} levels`,
      );
    }
    if (value === null) return void this.out.push('<none/>');
    if (value === true || value === false) return void this.out.push(`<bool>${value ? 1 : 0}</bool>`);
    if (typeof value === 'number' || value instanceof PyNumber) {
      return void this.out.push(numberElement(value));
    }
    if (typeof value === 'string') return void this.writeString(value);
    if (typeof value !== 'object') {
      throw new SlapError('SLAP_ERR_INTERNAL', `cannot marshal a value of type ${typeof value}`);
    }
    if (Array.isArray(value)) this.writeSequence(`list id="${this.nextId()}"`, 'list', value, depth);
    else if (value instanceof PyTuple) this.writeSequence('tuple', 'tuple', value.items, depth);
    else if (value instanceof PyObject) this.writeObject(value, depth);
    else if (isPlainObject(value)) this.writeDict(value, depth);
    else throw new SlapError('SLAP_ERR_INTERNAL', `cannot marshal a ${describeClass(value)}`);
  }

  private writeString(text: string): void {
    // Most strings (ids, URLs, states) need no escaping at all: printable ASCII but & < >.
    if (PLAIN_ASCII.test(text)) return void this.out.push(`<string>${text}</string>`);
    checkCarriable(text, 'a string');
    const escaped = asciiCharacterReferences(escapeXmlText(escapeMarshalString(text)));
    this.out.push(`<string>${escaped}</string>`);
  }

  private writeSequence(open: string, tag: string, items: readonly MarshalValue[], depth: number): void {
    if (items.length === 0) return void this.out.push(`<${open}/>`);
    this.out.push(`<${open}>`);
    for (const item of items) this.write(item, depth + 1);
    this.out.push(`</${tag}>`);
  }

  private writeDict(dict: MarshalDict, depth: number): void {
    const id = this.nextId();
    const keys = Object.keys(dict).sort(compareCodePoints);
    if (keys.length === 0) return void this.out.push(`<dictionary id="${id}"/>`);
    this.out.push(`<dictionary id="${id}">`);
    for (const key of keys) {
      this.writeString(key);
      this.write(dict[key] as MarshalValue, depth + 1);
    }
    this.out.push('</dictionary>');
  }

  private writeObject(object: PyObject, depth: number): void {
    checkCarriable(object.module, 'the module name');
    checkCarriable(object.className, 'the class name');
    const module = asciiCharacterReferences(escapeXmlAttribute(object.module));
    const className = asciiCharacterReferences(escapeXmlAttribute(object.className));
    this.out.push(`<object id="${this.nextId()}" module="${module}" class="${className}">`);
    this.write(new PyTuple(object.args), depth + 1);
    if (!isPlainObject(object.attributes)) {
      throw new SlapError('SLAP_ERR_INTERNAL', 'cannot marshal an object whose attributes are not a dict');
    }
    this.write(object.attributes, depth + 1);
    this.out.push('</object>');
  }
}

/**
 * A JSON-like value (parsed JSON, with PyNumbers where Python's type matters) as the marshal value
 * Python would send for it: objects become dictionaries, arrays lists. Anything else (undefined
 * excepted, which is None) has no marshalled form.
 */
export function marshalOfJson(value: unknown): MarshalValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return value;
  if (value instanceof PyNumber) return value;
  if (Array.isArray(value)) return value.map(marshalOfJson);
  if (typeof value === 'object') {
    const dict: MarshalDict = {};
    for (const key of Object.keys(value)) dict[key] = marshalOfJson((value as Record<string, unknown>)[key]);
    return dict;
  }
  throw new SlapError('SLAP_ERR_INVALID_INPUT', `a ${typeof value} cannot be sent over the legacy SLAP API`);
}

/**
 * Exactly what Python's xml_marshaller.dumps writes: no declaration, ASCII with `&#N;` references,
 * double-escaped strings, dict items sorted by key in code-point order, ids i2.. in pre-order. A
 * container that appears twice is written twice (slapproxy's answers never share objects).
 * Throws SLAP_ERR_INVALID_INPUT when a string holds characters XML 1.0 cannot carry.
 */
export function encodeMarshal(value: MarshalValue): string {
  return new Encoder().encode(value);
}

// --- decoding ---

function malformed(reason: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', `malformed marshalled XML: ${reason}`);
}

type ScalarTag = 'none' | 'bool' | 'int' | 'long' | 'float' | 'string' | 'unicode' | 'reference';
type ContainerTag = 'list' | 'set' | 'tuple' | 'dictionary' | 'object' | 'marshal';
const SCALAR_TAGS: ReadonlySet<string> = new Set<ScalarTag>([
  'none',
  'bool',
  'int',
  'long',
  'float',
  'string',
  'unicode',
  'reference',
]);
const CONTAINER_TAGS: ReadonlySet<string> = new Set<ContainerTag>([
  'list',
  'set',
  'tuple',
  'dictionary',
  'object',
]);

/**
 * The text of a scalar element. The common case, one run of character data, is kept raw (checked)
 * until the end so that a string's two unescapings run in one pass.
 */
class ScalarText {
  private raw: string | undefined;
  private readonly parts: string[] = [];

  addCharacterData(raw: string): void {
    checkCharacterData(raw);
    this.flush();
    this.raw = raw;
  }

  addCdata(raw: string): void {
    this.flush();
    this.parts.push(normaliseLineEnds(raw));
  }

  isEmpty(): boolean {
    return this.raw === undefined && this.parts.every((part) => part === '');
  }

  /** The text as an XML parser reports it. */
  value(): string {
    this.flush();
    return this.parts.length === 1 ? (this.parts[0] as string) : this.parts.join('');
  }

  /** A `<string>`'s value: also the reverse of xml_marshaller's own escaping (saxutils.unescape). */
  stringValue(): string {
    if (this.parts.length === 0 && this.raw !== undefined) {
      return decodeCharacterData(this.raw, malformed, { unescapeLtGtAmp: true });
    }
    return unescapeLtGtAmp(this.value());
  }

  private flush(): void {
    if (this.raw === undefined) return;
    this.parts.push(decodeCharacterData(this.raw, malformed));
    this.raw = undefined;
  }
}

interface ScalarFrame {
  readonly kind: 'scalar';
  readonly tag: ScalarTag;
  readonly text: ScalarText;
  /** A reference's target, resolved when the element opens. */
  readonly target?: MarshalValue;
}

interface ContainerFrame {
  readonly kind: 'container';
  readonly tag: ContainerTag;
  readonly id: string | undefined;
  /** The value counter before this container opened: its size is the difference at its end. */
  readonly valuesBefore: number;
  /** Children of a list, set, tuple, object or the root. */
  readonly items: MarshalValue[];
  /** A dictionary's items, and the key waiting for its value. */
  readonly dict: MarshalDict | undefined;
  key: string | undefined;
  readonly module: string;
  readonly className: string;
}

type Frame = ScalarFrame | ContainerFrame;

/** A container with an id: open (a reference to it would be a cycle), or complete with its size. */
type Identified = { readonly value: MarshalValue; readonly size: number } | 'open';

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const SLASH = 0x2f;
const EQUALS = 0x3d;

function isSpace(code: number): boolean {
  return code === SPACE || code === TAB || code === LF || code === CR;
}

function isNameStart(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    code === 0x5f || // _
    code === 0x3a || // :
    // Beyond ASCII, roughly XML's NameStartChar; no surrogates (names of this format are ASCII anyway).
    (code >= 0xc0 &&
      code !== 0xd7 &&
      code !== 0xf7 &&
      code !== 0x37e &&
      (code < 0xd800 || (code >= 0xe000 && code < 0xfffe)))
  );
}

function isNameChar(code: number): boolean {
  return (
    isNameStart(code) ||
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0xb7
  );
}

function checkCharacters(raw: string): void {
  if (!isXmlCompatible(raw)) throw malformed('the document holds characters XML cannot carry');
}

function checkCharacterData(raw: string): void {
  checkCharacters(raw);
  if (raw.includes(']]>')) throw malformed("']]>' in character data");
}

/** An attribute value, as an XML parser reports it. */
function parseAttributeValue(raw: string): string {
  checkCharacters(raw);
  if (raw.includes('<')) throw malformed("'<' in an attribute value");
  return decodeAttributeValue(raw, malformed);
}

/** Line ends of a CDATA section as an XML parser reports them: CR LF and a lone CR become LF. */
function normaliseLineEnds(raw: string): string {
  return raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw;
}

const INTEGER = /^[ \t\n\r\f\v]*([+-]?)([0-9]+)[ \t\n\r\f\v]*$/;
const FLOAT =
  /^[ \t\n\r\f\v]*([+-]?)(?:([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)|(inf|infinity)|(nan))[ \t\n\r\f\v]*$/i;

/** Python's int(text) for what an xml_marshaller writes (`<int>`, `<long>`, `<bool>`). */
function parseInteger(text: string, tag: string): number | PyNumber {
  if (text.length > MAX_INT_DIGITS + 64) throw malformed(`<${tag}> of more than ${MAX_INT_DIGITS} digits`);
  const match = INTEGER.exec(text);
  if (!match) throw malformed(`<${tag}> holds ${quote(text)}, not an integer`);
  const [, sign = '', digits = ''] = match;
  if (digits.length > MAX_INT_DIGITS) throw malformed(`<${tag}> of more than ${MAX_INT_DIGITS} digits`);
  const value = Number(`${sign}${digits}`);
  if (Number.isSafeInteger(value)) return value === 0 ? 0 : value;
  return new PyNumber(BigInt(`${sign}${digits}`).toString());
}

/** Python's float(text), kept as its repr. */
function parseFloatText(text: string): PyNumber {
  const match = text.length <= 1000 ? FLOAT.exec(text) : null;
  if (!match) throw malformed(`<float> holds ${quote(text)}, not a float`);
  const [, sign = '', finite, infinite] = match;
  const value = finite !== undefined ? Number(`${sign}${finite}`) : infinite !== undefined ? Infinity : NaN;
  return new PyNumber(pyFloatRepr(sign === '-' && infinite !== undefined ? -value : value));
}

/** A dictionary key as Python's str() of it: only scalars may be keys. */
function keyOf(value: MarshalValue): string {
  if (typeof value === 'string') return value;
  if (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'number' ||
    value instanceof PyNumber
  ) {
    return pyStr(value);
  }
  throw malformed('a dictionary key must be a string, a number, a boolean or None');
}

class Decoder {
  private readonly stack: Frame[] = [];
  private readonly ids = new Map<string, Identified>();
  private values = 0;
  private rootDone = false;
  private result: MarshalValue = null;

  constructor(private readonly xml: string) {}

  decode(): MarshalValue {
    const xml = this.xml;
    let position = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
    position = this.skipDeclaration(position);
    while (position < xml.length) {
      const lt = xml.indexOf('<', position);
      const textEnd = lt < 0 ? xml.length : lt;
      if (textEnd > position) this.text(xml.slice(position, textEnd));
      if (lt < 0) break;
      const next = xml.charCodeAt(lt + 1);
      if (next === SLASH) position = this.closingTag(lt);
      else if (next === 0x21 /* ! */) position = this.markupDeclaration(lt);
      else if (next === 0x3f /* ? */) {
        throw malformed(
          xml.startsWith('<?xml', lt) && isSpace(xml.charCodeAt(lt + 5))
            ? 'the XML declaration must start the document'
            : 'processing instructions are not allowed',
        );
      } else position = this.startTag(lt);
    }
    if (this.stack.length > 0) throw malformed(`unterminated document (<${this.top().tag}> is not closed)`);
    if (!this.rootDone) throw malformed('no <marshal> root element');
    return this.result;
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1] as Frame;
  }

  private skipDeclaration(position: number): number {
    const xml = this.xml;
    if (!xml.startsWith('<?xml', position) || !isSpace(xml.charCodeAt(position + 5))) return position;
    const end = xml.indexOf('?>', position);
    if (end < 0) throw malformed('unterminated XML declaration');
    const content = xml.slice(position + 5, end);
    if (content.includes('<') || !isXmlCompatible(content)) throw malformed('bad XML declaration');
    return end + 2;
  }

  /** Character data between tags: kept in scalars, only whitespace elsewhere. */
  private text(raw: string): void {
    const frame = this.stack[this.stack.length - 1];
    if (frame?.kind === 'scalar') frame.text.addCharacterData(raw);
    else this.requireWhitespace(raw, frame);
  }

  private requireWhitespace(raw: string, frame: Frame | undefined): void {
    for (let i = 0; i < raw.length; i++) {
      if (!isSpace(raw.charCodeAt(i))) {
        throw malformed(frame === undefined ? 'text outside the root element' : `text inside <${frame.tag}>`);
      }
    }
  }

  private markupDeclaration(lt: number): number {
    const xml = this.xml;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('--', lt + 4);
      if (end < 0) throw malformed('unterminated comment');
      if (xml.charCodeAt(end + 2) !== GT) throw malformed("'--' inside a comment");
      checkCharacters(xml.slice(lt + 4, end));
      return end + 3;
    }
    if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      if (end < 0) throw malformed('unterminated CDATA section');
      const raw = xml.slice(lt + 9, end);
      const frame = this.stack[this.stack.length - 1];
      if (frame === undefined) throw malformed('CDATA section outside the root element');
      checkCharacters(raw);
      if (frame.kind === 'scalar') frame.text.addCdata(raw);
      else this.requireWhitespace(raw, frame);
      return end + 3;
    }
    if (xml.startsWith('<!DOCTYPE', lt)) {
      throw malformed('DOCTYPE is not allowed (no DTD, no entity declarations)');
    }
    throw malformed(`markup declaration ${quote(xml.slice(lt, lt + 12))} is not allowed`);
  }

  /** The end of the name starting at `position` (empty names refused). */
  private nameEnd(position: number, what: string): number {
    const xml = this.xml;
    if (!isNameStart(xml.charCodeAt(position))) {
      throw malformed(`bad ${what} at offset ${position} near ${quote(xml.slice(position, position + 12))}`);
    }
    let end = position + 1;
    while (end < xml.length && isNameChar(xml.charCodeAt(end))) end++;
    return end;
  }

  private skipSpaces(position: number): number {
    let at = position;
    while (at < this.xml.length && isSpace(this.xml.charCodeAt(at))) at++;
    return at;
  }

  private startTag(lt: number): number {
    const xml = this.xml;
    const nameEnd = this.nameEnd(lt + 1, 'tag');
    const name = xml.slice(lt + 1, nameEnd);
    const attributes = new Map<string, string>();
    let position = nameEnd;
    for (;;) {
      const afterSpace = this.skipSpaces(position);
      const code = xml.charCodeAt(afterSpace);
      if (code === GT) {
        this.open(name, attributes);
        return afterSpace + 1;
      }
      if (code === SLASH && xml.charCodeAt(afterSpace + 1) === GT) {
        this.open(name, attributes);
        this.close(name);
        return afterSpace + 2;
      }
      if (afterSpace >= xml.length) throw malformed(`unterminated tag ${quote(name)}`);
      if (afterSpace === position) throw malformed(`bad tag ${quote(name)} at offset ${lt}`);
      const attributeEnd = this.nameEnd(afterSpace, 'attribute');
      const attribute = xml.slice(afterSpace, attributeEnd);
      const equals = this.skipSpaces(attributeEnd);
      if (xml.charCodeAt(equals) !== EQUALS) throw malformed(`attribute ${quote(attribute)} without a value`);
      const open = this.skipSpaces(equals + 1);
      const quoteChar = xml[open];
      if (quoteChar !== '"' && quoteChar !== "'")
        throw malformed(`attribute ${quote(attribute)} is not quoted`);
      const close = xml.indexOf(quoteChar, open + 1);
      if (close < 0) throw malformed(`unterminated attribute ${quote(attribute)}`);
      if (attributes.has(attribute)) throw malformed(`attribute ${quote(attribute)} given twice`);
      attributes.set(attribute, parseAttributeValue(xml.slice(open + 1, close)));
      position = close + 1;
    }
  }

  private closingTag(lt: number): number {
    const xml = this.xml;
    const nameEnd = this.nameEnd(lt + 2, 'closing tag');
    const name = xml.slice(lt + 2, nameEnd);
    const gt = this.skipSpaces(nameEnd);
    if (xml.charCodeAt(gt) !== GT) throw malformed(`bad closing tag ${quote(name)} at offset ${lt}`);
    this.close(name);
    return gt + 1;
  }

  private countValues(count: number): void {
    this.values += count;
    if (this.values > MAX_MARSHAL_VALUES) {
      throw malformed(`more than ${MAX_MARSHAL_VALUES} values (references counted in full)`);
    }
  }

  private open(name: string, attributes: ReadonlyMap<string, string>): void {
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) {
      if (this.rootDone) throw malformed('two root elements');
      if (name !== 'marshal') throw malformed(`the root element must be <marshal>, not ${quote(name)}`);
      this.stack.push(this.container('marshal', undefined, attributes));
      return;
    }
    if (parent.kind === 'scalar') throw malformed(`element ${quote(name)} inside <${parent.tag}>`);
    if (parent.tag === 'marshal' && parent.items.length > 0)
      throw malformed('<marshal> holds more than one value');
    if (this.stack.length > MAX_MARSHAL_DEPTH) {
      throw malformed(`values nested deeper than ${MAX_MARSHAL_DEPTH} levels`);
    }
    if (name === 'reference') {
      const target = this.resolve(attributes.get('id'));
      this.stack.push({ kind: 'scalar', tag: 'reference', text: new ScalarText(), target: target.value });
      this.countValues(target.size);
    } else if (SCALAR_TAGS.has(name)) {
      this.countValues(1);
      this.stack.push({ kind: 'scalar', tag: name as ScalarTag, text: new ScalarText() });
    } else if (CONTAINER_TAGS.has(name)) {
      const id = name === 'tuple' ? undefined : attributes.get('id');
      const frame = this.container(name as ContainerTag, id, attributes);
      this.countValues(1);
      if (id !== undefined) {
        if (this.ids.has(id)) throw malformed(`id ${quote(id)} given to two containers`);
        this.ids.set(id, 'open');
      }
      this.stack.push(frame);
    } else {
      throw malformed(`unknown element ${quote(name)}`);
    }
  }

  private container(
    tag: ContainerTag,
    id: string | undefined,
    attributes: ReadonlyMap<string, string>,
  ): ContainerFrame {
    let module = '';
    let className = '';
    if (tag === 'object') {
      module = attributes.get('module') ?? '';
      className = attributes.get('class') ?? '';
      if (module !== SLAP_MODULE || !SLAP_CLASSES.has(className)) {
        throw malformed(`objects of class ${quote(`${module}.${className}`)} are not allowed`);
      }
    }
    return {
      kind: 'container',
      tag,
      id,
      valuesBefore: this.values,
      items: [],
      dict: tag === 'dictionary' ? (Object.create(null) as MarshalDict) : undefined,
      key: undefined,
      module,
      className,
    };
  }

  private resolve(id: string | undefined): { value: MarshalValue; size: number } {
    if (id === undefined) throw malformed('<reference> without an id');
    const target = this.ids.get(id);
    if (target === undefined) throw malformed(`reference to unknown id ${quote(id)}`);
    if (target === 'open') throw malformed(`reference to ${quote(id)}, a container still open (a cycle)`);
    return target;
  }

  private close(name: string): void {
    const frame = this.stack.pop();
    if (frame === undefined) throw malformed(`closing tag ${quote(name)} without an opening tag`);
    if (frame.tag !== name) throw malformed(`closing tag ${quote(name)} does not match <${frame.tag}>`);
    const value = frame.kind === 'scalar' ? this.scalarValue(frame) : this.containerValue(frame);
    if (frame.kind === 'container' && frame.id !== undefined) {
      this.ids.set(frame.id, { value, size: this.values - frame.valuesBefore });
    }
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) {
      this.rootDone = true;
      this.result = value;
    } else if (parent.kind === 'container') {
      this.add(parent, value);
    }
  }

  private add(parent: ContainerFrame, value: MarshalValue): void {
    if (parent.dict === undefined) {
      parent.items.push(value);
    } else if (parent.key === undefined) {
      parent.key = keyOf(value);
    } else {
      parent.dict[parent.key] = value;
      parent.key = undefined;
    }
  }

  private scalarValue(frame: ScalarFrame): MarshalValue {
    const text = frame.text;
    switch (frame.tag) {
      case 'none':
      case 'reference':
        if (!text.isEmpty()) throw malformed(`<${frame.tag}> holds text`);
        return frame.tag === 'none' ? null : (frame.target as MarshalValue);
      case 'bool': {
        const integer = parseInteger(text.value(), 'bool');
        return typeof integer === 'number' ? integer !== 0 : true;
      }
      case 'int':
      case 'long':
        return parseInteger(text.value(), frame.tag);
      case 'float':
        return parseFloatText(text.value());
      case 'string':
      case 'unicode':
        return text.stringValue();
    }
  }

  private containerValue(frame: ContainerFrame): MarshalValue {
    switch (frame.tag) {
      case 'marshal':
        if (frame.items.length === 0) throw malformed('<marshal> holds no value');
        return frame.items[0] as MarshalValue;
      case 'list':
      case 'set':
        return frame.items;
      case 'tuple':
        return new PyTuple(frame.items);
      case 'dictionary':
        if (frame.key !== undefined) throw malformed(`dictionary key ${quote(frame.key)} without a value`);
        return frame.dict as MarshalDict;
      case 'object': {
        const [args, attributes] = frame.items;
        if (frame.items.length !== 2 || !(args instanceof PyTuple) || !isDecodedDict(attributes)) {
          throw malformed('an <object> holds a <tuple> of arguments then a <dictionary> of attributes');
        }
        return new PyObject(frame.module, frame.className, args.items, attributes);
      }
    }
  }
}

function isDecodedDict(value: MarshalValue | undefined): value is MarshalDict {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null;
}

/**
 * Parses a `<marshal>` document. Throws SLAP_ERR_INVALID_INPUT (message starting with "malformed
 * marshalled XML: ") on anything else; see docs/protocol.md §3.3 and the limits above.
 */
export function decodeMarshal(xml: string): MarshalValue {
  if (typeof xml !== 'string') throw malformed('not a text');
  return new Decoder(xml).decode();
}

function describe(value: MarshalValue): string {
  if (value === null) return 'None';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  if (typeof value === 'number' || value instanceof PyNumber) return 'a number';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof PyTuple) return 'a tuple';
  if (value instanceof PyObject) return `an object ${value.className}`;
  return 'a dictionary';
}

function decodeNamed(xml: string, what: string): MarshalValue {
  try {
    return decodeMarshal(xml);
  } catch (error) {
    if (error instanceof SlapError) {
      throw new SlapError(
        error.code,
        error.message.replace('XML: ', () => `XML: ${what}: `),
      );
    }
    throw error;
  }
}

/** decodeMarshal for a field that must hold a dictionary; `what` names the field in errors. */
export function decodeMarshalDict(xml: string, what: string): MarshalDict {
  const value = decodeNamed(xml, what);
  if (!isDecodedDict(value)) throw malformed(`${what}: expected a dictionary, got ${describe(value)}`);
  return value;
}

/** decodeMarshal for a field that must hold a string or None (`<string>`, `<unicode>`, `<none/>`). */
export function decodeMarshalString(xml: string, what: string): string | null {
  const value = decodeNamed(xml, what);
  if (value !== null && typeof value !== 'string') {
    throw malformed(`${what}: expected a string or None, got ${describe(value)}`);
  }
  return value;
}
