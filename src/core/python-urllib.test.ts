import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from '../lib/exec.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import {
  UrlValueError,
  netlocHostname,
  netlocPort,
  netlocUserinfo,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  USES_NETLOC,
  USES_PARAMS,
  USES_RELATIVE,
} from './python-urllib.ts';

/** Debian's python3 (the CI's, with the security fixes): its 3.11.2 predates `rtsps`, added later in 3.11. */
const PYTHON = '/usr/bin/python3';
const LATER_SCHEMES = ['rtsps'];
const URL_PIECES = [
  ...['http:', 'https:', 'rtsps:', 'itms-services:', 'mailto:', 'svn+ssh:', 'Tel:', '1a:', '//', '/'],
  ...['[', ']', '[::1]', '[v1.x]', '[1.2.3.4]', '[fe80::1%eth0]', '::1', '@', ':', '%', '8080', ':99999'],
  ...[':0x1', ';', ';p', '?', '#', '.', '..', '../', './', 'a/', 'u:p@', '\u2100', '\uff03', ' ', '\t', '\n'],
];

function pick(random: () => number, choices: readonly string[]): string {
  return choices[Math.floor(random() * choices.length)] as string;
}

/** Random pieces, or half the time an authority of random shape followed by random pieces. */
function randomUrl(random: () => number, pieces: readonly string[]): string {
  let url = '';
  if (random() < 0.5) {
    url += pick(random, ['', 'http:', 'HTTPS:', 'x-y.z+w:', 'file:', 'tel:']) + '//';
    url += pick(random, ['', 'u@', 'u:p@', ':@', 'a@b@', 'U:P:Q@', '%40@']);
    url += pick(random, ['', 'Host', 'h.example', '[::1]', '[V1.X]', '[fe80::1%Eth0]', 'a[::1]', '[::1]x']);
    url += pick(random, ['', ':', ':80', ':0080', ':65535', ':65536', ':-1', ':\u0661', ':8 ']);
    url += pick(random, ['', '/', '/a;p', '?q', '#f']);
  }
  const count = Math.floor(random() * 8);
  for (let i = 0; i < count; i++)
    url += random() < 0.75 ? pick(random, pieces) : hostileString(random, 2).slice(0, 50);
  return url;
}

const ORACLE = String.raw`
import json, sys, urllib.parse as u
def attempt(f):
    try:
        return {'ok': f()}
    except ValueError as e:
        return {'error': str(e)}
def parsed(url, allow):
    def run():
        r = u.urlparse(url, allow_fragments=allow)
        attrs = {k: attempt(lambda: getattr(r, k)) for k in ('hostname', 'port', 'username', 'password')}
        return [list(r), list(u.urlsplit(url, allow_fragments=allow)), attrs, u.urlunparse(r)]
    return attempt(run)
cases = json.load(sys.stdin)
json.dump({
    'tables': [u.uses_relative, u.uses_netloc, u.uses_params],
    'parsed': [parsed(url, allow) for url, allow in cases['urls']],
    'joined': [attempt(lambda: u.urljoin(b, r)) for b, r in cases['joins']],
}, sys.stdout)
`;

function attempt<T>(f: () => T): { ok: T } | { error: string } {
  try {
    return { ok: f() };
  } catch (error) {
    if (error instanceof UrlValueError) return { error: error.message };
    throw error;
  }
}

test('urlsplit, urlparse, urlunparse, urljoin and the netloc attributes answer as python3 (differential)', async () => {
  const tables = await execFile(PYTHON, [
    '-c',
    'import json, urllib.parse as u; print(json.dumps(u.uses_params))',
  ]);
  assert.equal(tables.exitCode, 0, tables.stderr);
  const oracleLacks = LATER_SCHEMES.filter((s) => !(JSON.parse(tables.stdout) as string[]).includes(s));
  const known = (table: ReadonlySet<string>): string[] => [...table].filter((s) => !oracleLacks.includes(s));
  const pieces = URL_PIECES.filter((p) => !oracleLacks.some((s) => p.toLowerCase().startsWith(`${s}:`)));
  const random = seededRandom(11);
  const urls: [string, boolean][] = [];
  for (let i = 0; i < 3000; i++) urls.push([randomUrl(random, pieces), random() < 0.9]);
  const joins: [string, string][] = [];
  for (let i = 0; i < 1500; i++) joins.push([randomUrl(random, pieces), randomUrl(random, pieces)]);
  const result = await execFile(PYTHON, ['-c', ORACLE], {
    input: JSON.stringify({ urls, joins }),
    maxOutputBytes: 64 * 1024 * 1024,
  });
  assert.equal(result.exitCode, 0, result.stderr);
  const expected = JSON.parse(result.stdout) as {
    tables: string[][];
    parsed: unknown[];
    joined: unknown[];
  };
  assert.deepEqual(expected.tables, [known(USES_RELATIVE), known(USES_NETLOC), known(USES_PARAMS)]);
  urls.forEach(([url, allow], i) => {
    const ours = attempt(() => {
      const parts = urlparse(url, '', allow);
      const netloc = parts[1];
      const attrs = {
        hostname: attempt(() => netlocHostname(netloc)),
        port: attempt(() => netlocPort(netloc)),
        username: attempt(() => netlocUserinfo(netloc)[0]),
        password: attempt(() => netlocUserinfo(netloc)[1]),
      };
      return [parts, urlsplit(url, '', allow), attrs, urlunparse(parts)];
    });
    assert.deepEqual(ours, expected.parsed[i], JSON.stringify(url));
  });
  joins.forEach(([base, url], i) => {
    assert.deepEqual(
      attempt(() => urljoin(base, url)),
      expected.joined[i],
      JSON.stringify([base, url]),
    );
  });
});
