/**
 * Deterministic random strings for property tests of anything that writes requester-controlled
 * text into a file that is read back (profiles, the installed-parts record): every Unicode line
 * terminator, NUL and control characters, the profile syntax's own characters, whitespace at the
 * ends, lone surrogates and very long strings.
 */

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic random choices: each call an integer in [0, below). */
export function seededChoices(seed: number): (below: number) => number {
  const next = seededRandom(seed);
  return (below) => Math.floor(next() * below);
}

/** Every line terminator some reader honours (Python's str.splitlines, JavaScript's regexes). */
export const LINE_TERMINATORS = [
  '\r',
  '\n',
  '\r\n',
  '\v',
  '\f',
  '\x1c',
  '\x1d',
  '\x1e',
  '\x85',
  '\u2028',
  '\u2029',
];

/** Pieces a hostile string is assembled from. */
export const HOSTILE_PIECES = [
  ...LINE_TERMINATORS,
  '\0',
  '\x01',
  '\x1b',
  '\x1f',
  '\x7f',
  '\x9f',
  '\t',
  ' ',
  '\u00a0',
  '\u3000',
  '\ufeff',
  '[',
  ']',
  '[buildout]',
  '[evil]',
  'parts = evil',
  '__buildout_installed__ = /tmp/victim',
  '${',
  '$${',
  '$',
  '}',
  '#',
  ';',
  '=',
  ':',
  '+',
  '-',
  '%',
  '%(',
  '%(__buildout_space__)s',
  '%(__buildout_space_n__)s',
  '%(__slapos_u41__)s',
  ')s',
  '\\',
  '"',
  "'",
  '\ud800',
  '\udc00',
  '\ud83d\ude00',
  'é',
  'a',
  'key',
  '0',
];

/** A random string of up to `maxPieces` pieces (or one very long string now and then). */
export function hostileString(random: () => number, maxPieces = 12): string {
  const count = Math.floor(random() * (maxPieces + 1));
  let text = '';
  for (let i = 0; i < count; i++) {
    if (random() < 0.1) text += String.fromCharCode(Math.floor(random() * 0x10000));
    else text += HOSTILE_PIECES[Math.floor(random() * HOSTILE_PIECES.length)] as string;
  }
  if (random() < 0.02) text = text.repeat(2000);
  return text;
}
