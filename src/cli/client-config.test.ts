import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { throwsSlapError } from '../testing/slap-error-assert.ts';
import { runSlapos } from '../testing/cli.ts';
import { resolveClientConfig } from './client-config.ts';

function sandbox(): { dir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'slapos-client-config-'));
  return {
    dir,
    env: { HOME: join(dir, 'home') },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test('--master-url wins over the environment and the configuration file', () => {
  const box = sandbox();
  try {
    const cfg = join(box.dir, 'client.cfg');
    writeFileSync(cfg, '[slapconsole]\nmaster_url = http://from-file:1\n');
    const env = { ...box.env, SLAPOS_MASTER_URL: 'http://from-env:1' };
    const config = resolveClientConfig({ masterUrl: 'http://flag:1', cfg }, { env, cwd: box.dir });
    assert.deepEqual(config, { masterUrl: 'http://flag:1', source: '--master-url' });
    assert.equal(resolveClientConfig({ cfg }, { env, cwd: box.dir }).masterUrl, 'http://from-env:1');
    assert.equal(
      resolveClientConfig({ cfg }, { env: box.env, cwd: box.dir }).masterUrl,
      'http://from-file:1',
    );
  } finally {
    box.cleanup();
  }
});

test('[slapconsole] master_url, else [slapos] master_url, from --cfg (relative to the working directory)', () => {
  const box = sandbox();
  try {
    writeFileSync(
      join(box.dir, 'both.cfg'),
      '[slapos]\nmaster_url = http://slapos:1\n[slapconsole]\nmaster_url = http://console:1\n',
    );
    writeFileSync(
      join(box.dir, 'node.cfg'),
      '[slapos]\nmaster_url = http://slapos:1\ncomputer_id = COMP-0\n',
    );
    const ctx = { env: box.env, cwd: box.dir };
    const both = resolveClientConfig({ cfg: 'both.cfg' }, ctx);
    assert.equal(both.masterUrl, 'http://console:1');
    assert.match(both.source, /\[slapconsole\] master_url of .*both\.cfg/);
    assert.equal(resolveClientConfig({ cfg: 'node.cfg' }, ctx).masterUrl, 'http://slapos:1');
  } finally {
    box.cleanup();
  }
});

test('the file comes from $SLAPOS_CLIENT_CONFIGURATION, else ~/.slapos/slapos-client.cfg, else $SLAPOS_CONFIGURATION', () => {
  const box = sandbox();
  try {
    mkdirSync(join(box.dir, 'home', '.slapos'), { recursive: true });
    writeFileSync(join(box.dir, 'env.cfg'), '[slapconsole]\nmaster_url = http://env-file:1\n');
    writeFileSync(join(box.dir, 'node.cfg'), '[slapos]\nmaster_url = http://node-file:1\n');
    const ctx = (extra: NodeJS.ProcessEnv) => ({ env: { ...box.env, ...extra }, cwd: box.dir });
    const nodeFile = { SLAPOS_CONFIGURATION: join(box.dir, 'node.cfg') };
    assert.equal(resolveClientConfig({}, ctx(nodeFile)).masterUrl, 'http://node-file:1');
    writeFileSync(
      join(box.dir, 'home', '.slapos', 'slapos-client.cfg'),
      '[slapconsole]\nmaster_url = http://home:1\n',
    );
    assert.equal(resolveClientConfig({}, ctx(nodeFile)).masterUrl, 'http://home:1');
    const clientFile = { ...nodeFile, SLAPOS_CLIENT_CONFIGURATION: join(box.dir, 'env.cfg') };
    assert.equal(resolveClientConfig({}, ctx(clientFile)).masterUrl, 'http://env-file:1');
  } finally {
    box.cleanup();
  }
});

test('no master URL anywhere is a usage error with a hint', () => {
  const box = sandbox();
  try {
    const error = throwsSlapError(
      () => resolveClientConfig({}, { env: box.env, cwd: box.dir }),
      'SLAP_ERR_USAGE',
      /No master URL/,
    );
    assert.match(error.hint ?? '', /--master-url/);
    assert.equal(error.exitCode, 5);
    writeFileSync(join(box.dir, 'empty.cfg'), '[slapos]\ncomputer_id = COMP-0\n');
    throwsSlapError(
      () => resolveClientConfig({ cfg: 'empty.cfg' }, { env: box.env, cwd: box.dir }),
      'SLAP_ERR_USAGE',
      /empty\.cfg has no \[slapconsole\] or \[slapos\] master_url/,
    );
  } finally {
    box.cleanup();
  }
});

test('no master URL, in a directory holding a standalone: the hint names its etc/slapos.cfg', async () => {
  const box = sandbox();
  try {
    const hintIn = (cwd: string, env: NodeJS.ProcessEnv = box.env): string =>
      throwsSlapError(() => resolveClientConfig({}, { env, cwd }), 'SLAP_ERR_USAGE', /No master URL given/)
        .hint ?? '';
    assert.doesNotMatch(hintIn(box.dir), /standalone/);
    mkdirSync(join(box.dir, '.slapos', 'etc'), { recursive: true });
    writeFileSync(join(box.dir, '.slapos', 'etc', 'slapos.cfg'), '[slapos]\n');
    assert.match(hintIn(box.dir), /^a standalone SlapOS is here: pass --cfg \.slapos\/etc\/slapos\.cfg /);
    // Inside the standalone's directory itself.
    assert.match(hintIn(join(box.dir, '.slapos')), /pass --cfg etc\/slapos\.cfg /);
    // $SLAPOS_STANDALONE_DIR elsewhere: named by its absolute path.
    const elsewhere = join(box.dir, 'elsewhere');
    mkdirSync(join(elsewhere, 'etc'), { recursive: true });
    writeFileSync(join(elsewhere, 'etc', 'slapos.cfg'), '[slapos]\n');
    const sub = join(box.dir, 'sub');
    mkdirSync(sub);
    assert.ok(
      hintIn(sub, { ...box.env, SLAPOS_STANDALONE_DIR: elsewhere }).includes(
        `pass --cfg ${join(elsewhere, 'etc', 'slapos.cfg')} `,
      ),
    );
    // And the command says it (here `service list`).
    const run = await runSlapos(['service', 'list'], { env: box.env, cwd: box.dir });
    assert.equal(run.code, 5);
    assert.match(run.stderr, /hint: a standalone SlapOS is here: pass --cfg \.slapos\/etc\/slapos\.cfg/);
  } finally {
    box.cleanup();
  }
});

test('a configuration file named explicitly must exist and parse', () => {
  const box = sandbox();
  try {
    const ctx = { env: box.env, cwd: box.dir };
    throwsSlapError(
      () => resolveClientConfig({ cfg: 'missing.cfg' }, ctx),
      'SLAP_ERR_CONFIG',
      /cannot read the configuration file .*missing\.cfg: ENOENT/,
    );
    throwsSlapError(
      () =>
        resolveClientConfig(
          {},
          { ...ctx, env: { ...box.env, SLAPOS_CLIENT_CONFIGURATION: '/nonexistent/x.cfg' } },
        ),
      'SLAP_ERR_CONFIG',
      /cannot read the configuration file \/nonexistent\/x\.cfg/,
    );
    writeFileSync(join(box.dir, 'broken.cfg'), 'master_url = http://x\n');
    throwsSlapError(
      () => resolveClientConfig({ cfg: 'broken.cfg' }, ctx),
      'SLAP_ERR_CONFIG',
      /outside of any section/,
    );
  } finally {
    box.cleanup();
  }
});

test('certificate files of the configuration are read for TLS, and must be readable', () => {
  const box = sandbox();
  try {
    writeFileSync(join(box.dir, 'cert.pem'), 'CERT');
    writeFileSync(join(box.dir, 'key.pem'), 'KEY');
    writeFileSync(
      join(box.dir, 'tls.cfg'),
      `[slapconsole]\nmaster_url = https://m:1\ncert_file = ${join(box.dir, 'cert.pem')}\nkey_file = ${join(box.dir, 'key.pem')}\n`,
    );
    const config = resolveClientConfig({ cfg: 'tls.cfg' }, { env: box.env, cwd: box.dir });
    assert.equal(config.tls?.cert?.toString(), 'CERT');
    assert.equal(config.tls?.key?.toString(), 'KEY');
    writeFileSync(join(box.dir, 'bad.cfg'), '[slapos]\nmaster_url = https://m:1\nkey_file = ~/nope.pem\n');
    throwsSlapError(
      () => resolveClientConfig({ cfg: 'bad.cfg' }, { env: box.env, cwd: box.dir }),
      'SLAP_ERR_CONFIG',
      /key_file .*home\/nope\.pem/,
    );
  } finally {
    box.cleanup();
  }
});

test('the access token: $SLAPOS_MASTER_TOKEN, else [slapconsole] then [slapos] master_token; kept with --master-url', () => {
  const box = sandbox();
  try {
    const token = 'tok_0123456789abcdefABCDEF';
    const other = 'other-0123456789abcdef';
    const cfg = join(box.dir, 'slapos.cfg');
    writeFileSync(cfg, `[slapos]\nmaster_url = http://127.0.0.1:1/\nmaster_token = ${token}\n`);
    const ctx = { env: box.env, cwd: box.dir };
    assert.equal(resolveClientConfig({ cfg }, ctx).accessToken, token);
    // --master-url (or $SLAPOS_MASTER_URL) with --cfg: the URL changes, the token stays.
    const both = resolveClientConfig({ cfg, masterUrl: 'http://127.0.0.1:2' }, ctx);
    assert.deepEqual(both, { masterUrl: 'http://127.0.0.1:2', source: '--master-url', accessToken: token });
    assert.equal(
      resolveClientConfig({ cfg }, { ...ctx, env: { ...box.env, SLAPOS_MASTER_URL: 'http://127.0.0.1:3' } })
        .accessToken,
      token,
    );
    assert.equal(
      resolveClientConfig({ cfg }, { ...ctx, env: { ...box.env, SLAPOS_MASTER_TOKEN: other } }).accessToken,
      other,
    );
    writeFileSync(
      cfg,
      `[slapconsole]\nmaster_token = ${other}\n[slapos]\nmaster_url = http://127.0.0.1:1/\nmaster_token = ${token}\n`,
    );
    assert.equal(resolveClientConfig({ cfg }, ctx).accessToken, other);
    // --master-url alone: no token.
    assert.equal(resolveClientConfig({ masterUrl: 'http://127.0.0.1:2' }, ctx).accessToken, undefined);
  } finally {
    box.cleanup();
  }
});

test('a malformed master_token is refused without being shown', () => {
  const box = sandbox();
  try {
    const cfg = join(box.dir, 'slapos.cfg');
    for (const bad of [
      'short',
      'has space inside-0123456789',
      'quote"0123456789abcdef',
      'é0123456789abcdefgh',
    ]) {
      writeFileSync(cfg, `[slapos]\nmaster_url = http://127.0.0.1:1/\nmaster_token = ${bad}\n`);
      const error = throwsSlapError(
        () => resolveClientConfig({ cfg }, { env: box.env, cwd: box.dir }),
        'SLAP_ERR_CONFIG',
        /master_token/,
      );
      assert.ok(!error.message.includes(bad) && !(error.hint ?? '').includes(bad), error.message);
    }
    throwsSlapError(
      () => resolveClientConfig({ cfg }, { env: { ...box.env, SLAPOS_MASTER_TOKEN: 'x y' }, cwd: box.dir }),
      'SLAP_ERR_CONFIG',
    );
  } finally {
    box.cleanup();
  }
});

test('master_api: [slapconsole], else [slapos] of the file, kept with --master-url; a bad one refused', () => {
  const box = sandbox();
  try {
    const cfg = join(box.dir, 'client.cfg');
    writeFileSync(
      cfg,
      '[slapconsole]\nmaster_url = http://a:1\nmaster_api = legacy\n[slapos]\nmaster_api = json\n',
    );
    const ctx = { env: box.env, cwd: box.dir };
    assert.equal(resolveClientConfig({ cfg }, ctx).masterApi, 'legacy');
    assert.equal(resolveClientConfig({ cfg, masterUrl: 'http://b:1' }, ctx).masterApi, 'legacy');
    writeFileSync(cfg, '[slapos]\nmaster_url = http://a:1\nmaster_api = json\n');
    assert.equal(resolveClientConfig({ cfg }, ctx).masterApi, 'json');
    writeFileSync(cfg, '[slapos]\nmaster_url = http://a:1\n');
    assert.equal(resolveClientConfig({ cfg }, ctx).masterApi, undefined);
    writeFileSync(cfg, '[slapos]\nmaster_url = http://a:1\nmaster_api = soap\n');
    throwsSlapError(() => resolveClientConfig({ cfg }, ctx), 'SLAP_ERR_CONFIG', /master_api .*"soap"/);
  } finally {
    box.cleanup();
  }
});
