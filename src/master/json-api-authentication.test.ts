/** The master with an access token: every path refuses anonymous callers with 401 (real HTTP). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApiSpec, loadExperimentalApiSpec, loadExtensionApiSpec } from '../api/index.ts';
import { JsonMasterClient } from '../client/master-client.ts';
import { createAccessToken } from '../lib/access-token.ts';
import { createLogger } from '../lib/logger.ts';
import { apiContentTypeProblem, postJson, startTestMaster, type JsonResponse } from '../testing/master.ts';
import type { IncomingHttpHeaders } from 'node:http';
import { Socket } from 'node:net';
import {
  bearerTokenAuthenticator,
  openProxyAuthenticator,
  type AuthenticationRequest,
} from './http/authentication.ts';
import { LINE_TERMINATORS, seededRandom } from '../testing/hostile-strings.ts';

const ALL_PATHS = Object.keys({
  ...loadApiSpec().paths,
  ...loadExperimentalApiSpec().paths,
  ...loadExtensionApiSpec().paths,
});

const HOSTILE = [...LINE_TERMINATORS, '\0', '\x01', '\x7f', ' ', '\t', 'é', '\u{1f600}'];

function randomString(random: () => number, pool: readonly string[], maxLength: number): string {
  const length = Math.floor(random() * maxLength);
  let text = '';
  for (let index = 0; index < length; index++) text += pool[Math.floor(random() * pool.length)] ?? '';
  return text;
}

const TOKEN_ALPHABET = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/='];

function assertRefused(response: JsonResponse, what: string): void {
  assert.equal(response.status, 401, `${what}: ${response.text}`);
  assert.equal(apiContentTypeProblem(response), undefined, what);
  const body = response.body as { status: unknown; type: unknown; title: unknown };
  assert.deepEqual(Object.keys(body).sort(), ['status', 'title', 'type'], what);
  assert.equal(body.status, 401, what);
  assert.equal(body.type, 'Unauthorized', what);
  assert.equal(typeof body.title, 'string', what);
  assert.equal(response.headers['www-authenticate'], 'Bearer realm="SlapOS master"', what);
}

function headersOnly(headers: IncomingHttpHeaders): AuthenticationRequest {
  return { headers, socket: new Socket(), ip: '127.0.0.1' };
}

test('authenticator: only "Bearer <token>" is the local caller, whatever else the header holds', async () => {
  const token = createAccessToken();
  const authenticator = bearerTokenAuthenticator(token);
  const callerOf = async (headers: IncomingHttpHeaders) =>
    (await authenticator.authenticate(headersOnly(headers))).caller;
  assert.deepEqual(await callerOf({ authorization: `Bearer ${token}` }), { kind: 'local' });
  assert.deepEqual(await callerOf({ authorization: `bearer  ${token}` }), { kind: 'local' });
  assert.deepEqual(await callerOf({}), { kind: 'anonymous' });
  const random = seededRandom(7);
  const pool = [...TOKEN_ALPHABET, ...HOSTILE];
  for (let run = 0; run < 2000; run++) {
    // Near misses (the token with hostile characters around or inside) and random strings.
    const noise = randomString(random, pool, 8);
    const cut = Math.floor(random() * (token.length + 1));
    const candidates = [
      `Bearer ${token.slice(0, cut)}${noise}${token.slice(cut)}`,
      `Bearer ${noise}`,
      `${noise}Bearer ${token}`,
      `Bearer ${token}${HOSTILE[run % HOSTILE.length] ?? ''}x`,
      randomString(random, pool, 60),
    ];
    for (const header of candidates) {
      if (header === `Bearer ${token}`) continue;
      const authentication = await authenticator.authenticate(headersOnly({ authorization: header }));
      assert.deepEqual(authentication.caller, { kind: 'anonymous' }, JSON.stringify(header));
      const refusal = authentication.refusal ?? '';
      if (noise.length >= 4) assert.ok(!refusal.includes(noise), JSON.stringify(header));
      assert.ok(!refusal.includes(token));
    }
  }
  // slapproxy's behaviour: nobody is asked anything.
  assert.deepEqual((await openProxyAuthenticator.authenticate(headersOnly({}))).caller, { kind: 'local' });
});

test('a master with a token refuses every path without it, or with a wrong one, with 401 and an API error body', async () => {
  const token = createAccessToken();
  const directory = await mkdtemp(join(tmpdir(), 'slapos-auth-log-'));
  const logFile = join(directory, 'master.log');
  const master = await startTestMaster({
    accessToken: token,
    logger: createLogger({ level: 'trace', destination: logFile }),
  });
  const wrong = createAccessToken();
  try {
    const attempts: [string, Record<string, string>][] = [
      ['no header', {}],
      ['a wrong token', { authorization: `Bearer ${wrong}` }],
      ['the token in another scheme', { authorization: `Basic ${token}` }],
      ['the token alone', { authorization: token }],
      ['a prefix of the token', { authorization: `Bearer ${token.slice(0, -1)}` }],
    ];
    for (const [what, headers] of attempts) {
      for (const path of ALL_PATHS)
        assertRefused(await postJson(master.url, path, {}, { headers }), `${path} with ${what}`);
      assertRefused(await postJson(master.url, '/no/such/path', {}, { headers }), `unknown path, ${what}`);
      assertRefused(
        await postJson(master.url, '/slapos.get.v0.hateoas_url', undefined, { headers, method: 'GET' }),
        `GET on a known path, ${what}`,
      );
      assertRefused(
        await postJson(master.url, '/api/slapos-extensions.json', undefined, { headers, method: 'GET' }),
        `the extension spec, ${what}`,
      );
      // Refused before the body is read: a body that is not JSON, or too large, changes nothing.
      assertRefused(
        await postJson(master.url, '/slapos.get.v0.hateoas_url', undefined, {
          headers,
          rawBody: 'x'.repeat(2 * 1024 * 1024),
        }),
        `an oversized body, ${what}`,
      );
    }
    // Random header values (as far as HTTP lets them through) never pass and are never echoed.
    const random = seededRandom(42);
    const pool = [...TOKEN_ALPHABET, ' ', '\t', 'é', '\xff', '"', '\\'];
    for (let run = 0; run < 150; run++) {
      const value = `Bearer ${randomString(random, pool, 60)}`;
      const response = await postJson(
        master.url,
        '/slapos.get.v0.hateoas_url',
        {},
        { headers: { authorization: value } },
      );
      assertRefused(response, JSON.stringify(value));
      const presented = value.slice('Bearer '.length).trim();
      if (presented.length >= 4) assert.ok(!response.text.includes(presented), JSON.stringify(value));
    }

    // The token opens every door.
    const allowed = await postJson(
      master.url,
      '/slapos.get.v0.hateoas_url',
      {},
      { headers: { authorization: `Bearer ${token}` } },
    );
    assert.equal(allowed.status, 200, allowed.text);
    const unknown = await postJson(
      master.url,
      '/no/such/path',
      {},
      { headers: { authorization: `Bearer ${token}` } },
    );
    assert.equal(unknown.status, 404);

    // The typed client: with the token it works, without it fails with SLAP_ERR_UNAUTHENTICATED and a hint.
    const client = new JsonMasterClient({ masterUrl: master.url, accessToken: token });
    const anonymous = new JsonMasterClient({ masterUrl: master.url });
    const format = { computerGuid: 'COMP-A', partitions: [{ reference: 'slappart0', addresses: [] }] };
    try {
      await assert.rejects(
        anonymous.formatComputeNode(format),
        (error: Error & { code?: string; hint?: string }) => {
          assert.equal(error.code, 'SLAP_ERR_UNAUTHENTICATED');
          assert.match(error.hint ?? '', /--cfg/);
          return true;
        },
      );
      // The refused call changed nothing; the authenticated one does.
      assert.deepEqual(await client.listComputeNodes(), []);
      await client.formatComputeNode(format);
      assert.deepEqual(await client.listComputeNodes(), [{ computer_guid: 'COMP-A' }]);
    } finally {
      await client.close();
      await anonymous.close();
    }
  } finally {
    await master.close();
  }
  const log = await readFile(logFile, 'utf8');
  assert.match(log, /master listening/);
  assert.match(log, /"authentication":"bearer token"/);
  assert.ok(!log.includes(token), 'the master logged its token');
  assert.ok(!log.includes(wrong), 'the master logged a presented token');
  await rm(directory, { recursive: true, force: true });
});

test('a master without a token answers anyone (slapproxy)', async () => {
  const master = await startTestMaster();
  try {
    const response = await postJson(master.url, '/slapos.get.v0.hateoas_url', {});
    assert.equal(response.status, 200);
  } finally {
    await master.close();
  }
});
