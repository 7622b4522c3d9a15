/**
 * A strict, linear XML scanner for documents without DTD: start tags, end tags and text in document
 * order, for readers that keep only what they need (a usage journal of 100,000 movements is read in
 * a fraction of a second, where building a whole object tree took seconds). Well-formedness is
 * checked (one root, matching end tags, quoted attributes, nothing but whitespace outside the root);
 * the declaration, processing instructions and comments are skipped; DOCTYPE and CDATA are refused.
 * Text is handed over raw (entities and line ends as written): see `unescapeXml`.
 */

export interface XmlEvents {
  open(name: string): void;
  close(name: string): void;
  /** Raw text inside an element (never called for whitespace outside the root). */
  text(raw: string): void;
}

const NAME = /^[A-Za-z_][\w.:-]*$/;
const WHITESPACE = /^[ \t\r\n]*$/;

function isSpace(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r';
}

/** Reads the start tag at `at` (after `<`): its name, whether it closes itself, and where it ends. */
function startTag(
  xml: string,
  at: number,
  fail: (reason: string) => never,
): { name: string; empty: boolean; next: number } {
  let i = at;
  while (i < xml.length && !isSpace(xml[i]) && xml[i] !== '>' && xml[i] !== '/') i++;
  const name = xml.slice(at, i);
  if (!NAME.test(name)) fail(`bad element name ${JSON.stringify(name.slice(0, 40))}`);
  for (;;) {
    while (isSpace(xml[i])) i++;
    const char = xml[i];
    if (char === '>') return { name, empty: false, next: i + 1 };
    if (char === '/') {
      if (xml[i + 1] !== '>') fail(`bad start tag <${name}>`);
      return { name, empty: true, next: i + 2 };
    }
    if (char === undefined) fail(`unterminated start tag <${name}>`);
    // An attribute: name = "value" or 'value', without '<' in the value.
    const nameStart = i;
    while (i < xml.length && !isSpace(xml[i]) && xml[i] !== '=' && xml[i] !== '>' && xml[i] !== '/') i++;
    if (!NAME.test(xml.slice(nameStart, i))) fail(`bad attribute in <${name}>`);
    while (isSpace(xml[i])) i++;
    if (xml[i] !== '=') fail(`attribute without value in <${name}>`);
    i++;
    while (isSpace(xml[i])) i++;
    const quote = xml[i];
    if (quote !== '"' && quote !== "'") fail(`unquoted attribute value in <${name}>`);
    const close = xml.indexOf(quote, i + 1);
    if (close < 0 || xml.slice(i + 1, close).includes('<')) fail(`bad attribute value in <${name}>`);
    i = close + 1;
    if (!isSpace(xml[i]) && xml[i] !== '>' && xml[i] !== '/') fail(`attributes not separated in <${name}>`);
  }
}

/** Scans `xml`, calling `events` in document order; `fail` throws the caller's error. */
export function scanXml(xml: string, events: XmlEvents, fail: (reason: string) => never): void {
  const stack: string[] = [];
  let sawRoot = false;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const end = lt < 0 ? xml.length : lt;
    if (end > i) {
      const raw = xml.slice(i, end);
      if (stack.length > 0) events.text(raw);
      else if (!WHITESPACE.test(raw)) fail('text outside the root element');
    }
    if (lt < 0) break;
    if (xml.startsWith('<?', lt)) {
      const close = xml.indexOf('?>', lt + 2);
      if (close < 0) fail('unterminated processing instruction');
      i = close + 2;
    } else if (xml.startsWith('<!--', lt)) {
      const close = xml.indexOf('-->', lt + 4);
      if (close < 0) fail('unterminated comment');
      i = close + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      fail('CDATA sections are not accepted');
    } else if (xml.startsWith('<!', lt)) {
      fail('DOCTYPE is not allowed (no DTD, no entity declarations)');
    } else if (xml[lt + 1] === '/') {
      const close = xml.indexOf('>', lt);
      if (close < 0) fail('unterminated end tag');
      const name = xml.slice(lt + 2, close).replace(/[ \t\r\n]+$/, '');
      const open = stack.pop();
      if (name !== open) fail(`</${name.slice(0, 40)}> does not close <${(open ?? '').slice(0, 40)}>`);
      events.close(name);
      i = close + 1;
    } else {
      const tag = startTag(xml, lt + 1, fail);
      if (stack.length === 0) {
        if (sawRoot) fail('more than one root element');
        sawRoot = true;
      }
      events.open(tag.name);
      if (tag.empty) events.close(tag.name);
      else stack.push(tag.name);
      i = tag.next;
    }
  }
  if (stack.length > 0) fail(`<${(stack[stack.length - 1] ?? '').slice(0, 40)}> is not closed`);
  if (!sawRoot) fail('no root element');
}
