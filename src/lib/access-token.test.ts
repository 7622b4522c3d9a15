import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNodeConfig } from '../node/config.ts';
import { withMasterToken } from '../standalone/config-file.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';
import { parseIni } from './ini.ts';
import {
  createAccessToken,
  isAccessToken,
  MASTER_TOKEN_OPTION,
  readAccessTokenFile,
  writeAccessTokenFile,
} from './access-token.ts';
import { LINE_TERMINATORS, seededRandom } from '../testing/hostile-strings.ts';

const ALPHABET = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'];
const HOSTILE = [...LINE_TERMINATORS, '\0', '\x07', ' ', '\t', '#', ';', '"', '=x', 'é', '$', '%'];

test('tokens: created ones are well formed and distinct; a hostile character anywhere makes one invalid', () => {
  const seen = new Set<string>();
  for (let index = 0; index < 200; index++) {
    const token = createAccessToken();
    assert.ok(isAccessToken(token), token);
    assert.equal(token.length, 43);
    seen.add(token);
  }
  assert.equal(seen.size, 200);
  const random = seededRandom(3);
  for (let run = 0; run < 3000; run++) {
    const length = 16 + Math.floor(random() * 60);
    let token = '';
    for (let index = 0; index < length; index++) token += ALPHABET[Math.floor(random() * ALPHABET.length)];
    assert.ok(isAccessToken(token), token);
    const bad = HOSTILE[run % HOSTILE.length] ?? '';
    const at = Math.floor(random() * (token.length + 1));
    assert.equal(isAccessToken(`${token.slice(0, at)}${bad}${token.slice(at)}`), false, JSON.stringify(bad));
  }
  assert.equal(isAccessToken('a'.repeat(15)), false);
  assert.equal(isAccessToken('a'.repeat(4097)), false);
  assert.equal(isAccessToken(`${'a'.repeat(20)}==`), true);
  assert.equal(isAccessToken(`${'a'.repeat(20)}=a`), false);
});

test('a valid token round-trips through slapos.cfg: the client, the node and the standalone read it back', () => {
  const random = seededRandom(11);
  const cfg =
    '[slapos]\ncomputer_id = local\nmaster_url = http://127.0.0.1:1/\nsoftware_root = /s\ninstance_root = /i\n[slapformat]\npartition_amount = 1\n';
  for (let run = 0; run < 500; run++) {
    const length = 16 + Math.floor(random() * 100);
    let token = '';
    for (let index = 0; index < length; index++) token += ALPHABET[Math.floor(random() * ALPHABET.length)];
    if (random() < 0.3) token += '=='.slice(0, 1 + Math.floor(random() * 2));
    const text = withMasterToken(cfg, token);
    assert.equal(parseIni(text).get('slapos', MASTER_TOKEN_OPTION), token);
    assert.equal(parseNodeConfig(text, { file: '/x/slapos.cfg', isRoot: false }).masterToken, token);
    // Replaced, not added twice.
    const again = withMasterToken(text, 'replacement-0123456789');
    assert.equal(parseIni(again).get('slapos', MASTER_TOKEN_OPTION), 'replacement-0123456789');
    assert.equal(again.split(MASTER_TOKEN_OPTION).length, 2);
  }
});

test('token files: written 0600 holding just the token; read back strictly', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'slapos-token-'));
  try {
    const file = join(dir, 'master.token');
    const token = createAccessToken();
    await writeAccessTokenFile(file, token);
    assert.equal(await readFile(file, 'utf8'), token);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await readAccessTokenFile(file), token);
    await writeFile(file, `${token}\n`);
    assert.equal(await readAccessTokenFile(file), token, 'one trailing newline is allowed');
    for (const content of [`${token}\n\n`, ` ${token}`, `${token}\u2028`, `${token}\0`, '']) {
      await writeFile(file, content);
      const error = await rejectsWithSlapError(
        readAccessTokenFile(file),
        'SLAP_ERR_CONFIG',
        /does not hold a valid token/,
      );
      assert.ok(!error.message.includes(token) && !(error.hint ?? '').includes(token));
    }
    await writeFile(file, token);
    for (const mode of [0o640, 0o604, 0o620, 0o660]) {
      await chmod(file, mode);
      await rejectsWithSlapError(readAccessTokenFile(file), 'SLAP_ERR_CONFIG', /other users/);
    }
    await rejectsWithSlapError(
      readAccessTokenFile(join(dir, 'none')),
      'SLAP_ERR_CONFIG',
      /cannot read the token file/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
