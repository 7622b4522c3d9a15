import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { seededRandom } from '../../../testing/hostile-strings.ts';
import { assign, hostileValue } from '../../../testing/recipe-values.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { UrlValueError } from '../../../core/python-urllib.ts';
import { pythonUrlparse } from './urlparse.ts';

const KEYS = ['scheme', 'username', 'password', 'host', 'port', 'path', 'params', 'query', 'fragment'];

/** What the original sets, as Python 3.11's urllib.parse.urlparse gives it. */
const CASES: [string, string[]][] = [
  [
    'http://User:P%40ss@[::1]:8080/a/b;p?q=1#f',
    ['http', 'User', 'P%40ss', '::1', '8080', 'a/b', 'p', 'q=1', 'f'],
  ],
  ['HTTP://Host.Example:80', ['http', '', '', 'host.example', '80', '', '', '', '']],
  ['//x', ['', '', '', 'x', '', '', '', '', '']],
  ['mailto:a@b', ['mailto', '', '', '', '', 'a@b', '', '', '']],
  ['http://[v1.x]/', ['http', '', '', 'v1.x', '', '', '', '', '']],
  ['foo', ['', '', '', '', '', 'foo', '', '', '']],
  ['http://a@b@c:1/', ['http', 'a@b', '', 'c', '1', '', '', '', '']],
  ['  http://x/\ty\n', ['http', '', '', 'x', '', 'y', '', '', '']],
  ['https://h/p;x/y;z', ['https', '', '', 'h', '', 'p;x/y', 'z', '', '']],
  ['http://[::1%25EtH0]:1', ['http', '', '', '::1%25EtH0', '1', '', '', '', '']],
  ['1http://x', ['', '', '', '', '', '1http://x', '', '', '']],
  ['ftp://u:@h:/x/?#', ['ftp', 'u', '', 'h', '', 'x', '', '', '']],
  [
    'git+ssh://git@example.com:22/repo.git',
    ['git+ssh', 'git', '', 'example.com', '22', 'repo.git', '', '', ''],
  ],
  ['http://h/a;b?c;d', ['http', '', '', 'h', '', 'a', 'b', 'c;d', '']],
  ['mysql://user:pa:ss@db:3306/base', ['mysql', 'user', 'pa:ss', 'db', '3306', 'base', '', '', '']],
  ['http://h:0/', ['http', '', '', 'h', '0', '', '', '', '']],
  ['x://host:/', ['x', '', '', 'host', '', '', '', '', '']],
];

const ERRORS: [string, string][] = [
  ['http://\uff03h/', "netloc '\uff03h' contains invalid characters under NFKC normalization"],
  ['http://h:99999', 'Port out of range 0-65535'],
  ['http://h:ab', "Port could not be cast to integer value as 'ab'"],
  ['http://[1.2.3.4]/', 'An IPv4 address cannot be in brackets'],
  ['http://[::1/', 'Invalid IPv6 URL'],
  ['http://[zz]/', "'zz' does not appear to be an IPv4 or IPv6 address"],
  ['http://h:-1/', "Port could not be cast to integer value as '-1'"],
];

test('urlparse sets the parts of url during init as the original (Python urlparse)', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const profile = `[buildout]
parts = show
[url]
recipe = slapos.cookbook:urlparse
[show]
recipe = slapos.recipe.template
output = \${buildout:directory}/out
inline = ${KEYS.map((key) => `\${url:${key}}`).join('|')}
`;
    for (const [url, expected] of CASES) {
      await run(profile, { assignments: assign('url', { url }) });
      assert.deepEqual((await readFile(`${dir.path}/out`, 'utf8')).split('|'), expected, JSON.stringify(url));
    }
    for (const [url, message] of ERRORS) {
      await rejectsWithSlapError(
        run(profile, { assignments: assign('url', { url }) }),
        'SLAP_ERR_PROFILE',
        new RegExp(`url:url: cannot parse the URL: ${message.replace(/[[\]()]/g, '\\$&')}`),
      );
    }
  } finally {
    await dir.remove();
  }
});

test('pythonUrlparse: any text either parses into parts that rebuild it, or is refused (property)', () => {
  const random = seededRandom(21);
  for (let i = 0; i < 2000; i++) {
    const url = `${['http://', 'https://u:p@', '//', ''][i % 4]}${hostileValue(random)}`;
    let parsed;
    try {
      parsed = pythonUrlparse(url);
    } catch (error) {
      assert.ok(error instanceof UrlValueError, String(error));
      continue;
    }
    // Nothing is lost but what Python drops: leading C0/space and tab, CR, LF.
    const cleaned = url.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
    const rebuilt =
      (parsed.scheme ? `${cleaned.slice(0, parsed.scheme.length)}:` : '') +
      (parsed.netloc || cleaned.slice(parsed.scheme ? parsed.scheme.length + 1 : 0).startsWith('//')
        ? `//${parsed.netloc}`
        : '') +
      parsed.path +
      (parsed.params ? `;${parsed.params}` : '') +
      (cleaned.includes('?') && (!cleaned.includes('#') || cleaned.indexOf('?') < cleaned.indexOf('#'))
        ? `?${parsed.query}`
        : '') +
      (cleaned.includes('#') ? `#${parsed.fragment}` : '');
    if (!cleaned.includes(';')) assert.equal(rebuilt, cleaned, JSON.stringify(url));
  }
});
