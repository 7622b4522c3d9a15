/**
 * Password hashes in the formats passlib writes (the `passwd-<scheme>` options of
 * slapos.cookbook:generate.password): crypt(3) SHA-256/SHA-512 (Drepper's public specification),
 * MD5-crypt, and the LDAP `{SHA}`/`{SSHA}`-style schemes. Salts come from the secure RNG; the
 * round counts and salt sizes are passlib's defaults, so the hashes verify anywhere passlib's do.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function cryptSalt(length: number): string {
  let salt = '';
  for (let i = 0; i < length; i++) salt += ITOA64[randomInt(64)];
  return salt;
}

/** crypt's base-64: each [b2, b1, b0] group of the digest gives `n` characters, low bits first. */
function encode64(digest: Buffer, groups: readonly (readonly [number, number, number, number])[]): string {
  let out = '';
  for (const [b2, b1, b0, n] of groups) {
    let w = ((b2 < 0 ? 0 : digest[b2]!) << 16) | ((b1 < 0 ? 0 : digest[b1]!) << 8) | digest[b0]!;
    for (let i = 0; i < n; i++) {
      out += ITOA64[w & 0x3f];
      w >>= 6;
    }
  }
  return out;
}

/** Repeats `block` to exactly `length` bytes. */
function stretch(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += block.length) block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}

const SHA256_ORDER: [number, number, number, number][] = [
  [0, 10, 20, 4],
  [21, 1, 11, 4],
  [12, 22, 2, 4],
  [3, 13, 23, 4],
  [24, 4, 14, 4],
  [15, 25, 5, 4],
  [6, 16, 26, 4],
  [27, 7, 17, 4],
  [18, 28, 8, 4],
  [9, 19, 29, 4],
  [-1, 31, 30, 3],
];

const SHA512_ORDER: [number, number, number, number][] = [
  [0, 21, 42, 4],
  [22, 43, 1, 4],
  [44, 2, 23, 4],
  [3, 24, 45, 4],
  [25, 46, 4, 4],
  [47, 5, 26, 4],
  [6, 27, 48, 4],
  [28, 49, 7, 4],
  [50, 8, 29, 4],
  [9, 30, 51, 4],
  [31, 52, 10, 4],
  [53, 11, 32, 4],
  [12, 33, 54, 4],
  [34, 55, 13, 4],
  [56, 14, 35, 4],
  [15, 36, 57, 4],
  [37, 58, 16, 4],
  [59, 17, 38, 4],
  [18, 39, 60, 4],
  [40, 61, 19, 4],
  [62, 20, 41, 4],
  [-1, -1, 63, 2],
];

/**
 * SHA-crypt (`$5$` with sha256, `$6$` with sha512). Without `rounds`, 5000 rounds and none written
 * (the specification's default); a given count is written (`rounds=N$`), clamped to 1000…999999999.
 */
export function shaCrypt(
  algorithm: 'sha256' | 'sha512',
  password: string,
  options: { salt?: string; rounds?: number } = {},
): string {
  const rounds = Math.min(999_999_999, Math.max(1000, options.rounds ?? 5000));
  const salt = Buffer.from((options.salt ?? cryptSalt(16)).slice(0, 16), 'utf8');
  const key = Buffer.from(password, 'utf8');
  const hash = (...parts: Buffer[]): Buffer => {
    const h = createHash(algorithm);
    for (const part of parts) h.update(part);
    return h.digest();
  };
  const b = hash(key, salt, key);
  const a = createHash(algorithm).update(key).update(salt).update(stretch(b, key.length));
  for (let n = key.length; n > 0; n >>= 1) a.update(n & 1 ? b : key);
  let c = a.digest();
  const pSeq = stretch(hash(...Array<Buffer>(key.length).fill(key)), key.length);
  const sSeq = stretch(hash(...Array<Buffer>(16 + c[0]!).fill(salt)), salt.length);
  for (let i = 0; i < rounds; i++) {
    const h = createHash(algorithm);
    h.update(i & 1 ? pSeq : c);
    if (i % 3 !== 0) h.update(sSeq);
    if (i % 7 !== 0) h.update(pSeq);
    h.update(i & 1 ? c : pSeq);
    c = h.digest();
  }
  const id = algorithm === 'sha256' ? '5' : '6';
  const roundsText = options.rounds === undefined ? '' : `rounds=${rounds}$`;
  const encoded = encode64(c, algorithm === 'sha256' ? SHA256_ORDER : SHA512_ORDER);
  return `$${id}$${roundsText}${salt.toString('utf8')}$${encoded}`;
}

/** MD5-crypt (`$1$`, Poul-Henning Kamp's FreeBSD scheme). */
export function md5Crypt(password: string, options: { salt?: string } = {}): string {
  const salt = Buffer.from((options.salt ?? cryptSalt(8)).slice(0, 8), 'utf8');
  const key = Buffer.from(password, 'utf8');
  const magic = Buffer.from('$1$');
  let final = createHash('md5').update(key).update(salt).update(key).digest();
  const ctx = createHash('md5').update(key).update(magic).update(salt);
  for (let left = key.length; left > 0; left -= 16) ctx.update(final.subarray(0, Math.min(left, 16)));
  for (let n = key.length; n > 0; n >>= 1) ctx.update(n & 1 ? Buffer.from([0]) : key.subarray(0, 1));
  final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const h = createHash('md5');
    h.update(i & 1 ? key : final);
    if (i % 3 !== 0) h.update(salt);
    if (i % 7 !== 0) h.update(key);
    h.update(i & 1 ? final : key);
    final = h.digest();
  }
  const encoded = encode64(final, [
    [0, 6, 12, 4],
    [1, 7, 13, 4],
    [2, 8, 14, 4],
    [3, 9, 15, 4],
    [4, 10, 5, 4],
    [-1, -1, 11, 2],
  ]);
  return `$1$${salt.toString('utf8')}$${encoded}`;
}

/** RFC 2307 style `{SCHEME}base64(digest(password + salt) + salt)`. */
function ldapDigest(prefix: string, algorithm: string, password: string, salt: Buffer): string {
  const digest = createHash(algorithm).update(password, 'utf8').update(salt).digest();
  return `{${prefix}}${Buffer.concat([digest, salt]).toString('base64')}`;
}

/** The schemes (passlib handler names, `-` for `_`) and how to hash with each. */
const SCHEMES: Record<string, (password: string) => string> = {
  // passlib's default round counts.
  'sha256-crypt': (pw) => shaCrypt('sha256', pw, { rounds: 535_000 }),
  'sha512-crypt': (pw) => shaCrypt('sha512', pw, { rounds: 656_000 }),
  'md5-crypt': (pw) => md5Crypt(pw),
  'ldap-md5': (pw) => ldapDigest('MD5', 'md5', pw, Buffer.alloc(0)),
  'ldap-sha1': (pw) => ldapDigest('SHA', 'sha1', pw, Buffer.alloc(0)),
  // passlib's default salt sizes: 4 bytes for MD5/SHA-1, 8 for SHA-256/512.
  'ldap-salted-md5': (pw) => ldapDigest('SMD5', 'md5', pw, randomBytes(4)),
  'ldap-salted-sha1': (pw) => ldapDigest('SSHA', 'sha1', pw, randomBytes(4)),
  'ldap-salted-sha256': (pw) => ldapDigest('SSHA256', 'sha256', pw, randomBytes(8)),
  'ldap-salted-sha512': (pw) => ldapDigest('SSHA512', 'sha512', pw, randomBytes(8)),
};

export const SUPPORTED_PASSWORD_SCHEMES: readonly string[] = Object.keys(SCHEMES);

/** The hash of `password` with `scheme` (`sha256-crypt`, `ldap-salted-sha1`…); undefined if unknown. */
export function hashPassword(scheme: string, password: string): string | undefined {
  return Object.hasOwn(SCHEMES, scheme) ? SCHEMES[scheme]!(password) : undefined;
}
