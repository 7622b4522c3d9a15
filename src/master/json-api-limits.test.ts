/**
 * The master's request limits (docs/master.md, "Limits"): ambiguous bodies (invalid UTF-8, a byte
 * order mark, repeated keys, another charset) are 400s; parameter dictionaries hold at most
 * MAX_OBJECT_MEMBERS keys (the 80,000-key request that stalled the master for 40 s is refused,
 * and other requests are served meanwhile); stored parameters and SLA have size caps (413 past
 * them, exact round trips up to them); a body over 1 MiB gets its 413 on every path, read by
 * real clients, even those that read the answer only once they have sent everything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import {
  EXTENSION_SPEC_URL_PATH,
  loadApiSpec,
  loadExperimentalApiSpec,
  loadExtensionApiSpec,
} from '../api/index.ts';
import { LINE_TERMINATORS, seededChoices } from '../testing/hostile-strings.ts';
import { apiResponseProblem } from '../testing/api-schema.ts';
import { ARRAY_CAPS } from './http/request-rules.ts';
import { encodeParameterXml } from '../core/parameter-xml.ts';
import { MAX_PARAMETER_XML_BYTES, MAX_SLA_JSON_BYTES } from './services/stored-parameters.ts';
import {
  apiContentTypeProblem,
  rawResponseHeaders,
  formatTestNode,
  postJson,
  withTestMaster,
} from '../testing/master.ts';
import {
  BODY_LIMIT_BYTES,
  DISCARD_LIMIT_BYTES,
  MAX_JSON_VALUES,
  MAX_OBJECT_MEMBERS,
} from './http/request-body.ts';

const SR = 'http://sr//';
const REQUEST = '/slapos.post.v0.software_instance';
const ALL_PATHS = Object.keys({
  ...loadApiSpec().paths,
  ...loadExperimentalApiSpec().paths,
  ...loadExtensionApiSpec().paths,
});

function assertApiError(
  response: {
    status: number;
    body: unknown;
    headers: Record<string, string | string[] | undefined>;
    text: string;
  },
  path: string,
  status: number,
  title?: RegExp,
): void {
  const label = `${path}: ${response.status} ${response.text.slice(0, 200)}`;
  assert.equal(response.status, status, label);
  assert.equal(apiResponseProblem(path, status, response.body), undefined, label);
  assert.equal(apiContentTypeProblem(response), undefined, label);
  if (title) assert.match((response.body as { title: string }).title, title, label);
}

/** Storable units (XML can carry them), several of them escaped in XML or multi-byte in UTF-8. */
const STORABLE_UNITS = [
  'a',
  'é',
  '\u{1F600}',
  '"',
  '\\',
  '<',
  '&',
  '\r',
  '\n',
  '\t',
  '\x85',
  '\u2028',
  '\ufeff',
];

const HOSTILE_UNITS = [
  'a',
  'é',
  '\u{1F600}',
  ' ',
  '"',
  '\\',
  ...LINE_TERMINATORS,
  '\u0000',
  '\u0007',
  '\ud800',
  '\udc00',
  '\ufeff',
  '\ufffd',
];

function randomString(random: (below: number) => number): string {
  let text = '';
  for (let length = random(8); length > 0; length--) text += HOSTILE_UNITS[random(HOSTILE_UNITS.length)];
  return text;
}

/** JSON text of a string with every character escaped as \uXXXX (another spelling of the same key). */
function escapedJsonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) out += `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return `${out}"`;
}

test('invalid UTF-8, a byte order mark, another charset and repeated keys are 400s on every path', async () => {
  await withTestMaster(async ({ url }) => {
    const valid = Buffer.from(
      `{"title":"T","software_release_uri":"${SR}","software_type":"x","parameters":{"k":"v"}}`,
    );
    const invalidSequences = [
      [0xff],
      [0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate
      [0xe2, 0x82], // truncated
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [0x80],
    ];
    for (const path of [...ALL_PATHS, '/slapos.get.v0.nothing']) {
      const at = valid.indexOf('"v"') + 2;
      for (const sequence of invalidSequences) {
        const body = Buffer.concat([valid.subarray(0, at), Buffer.from(sequence), valid.subarray(at)]);
        assertApiError(await postJson(url, path, undefined, { rawBody: body }), path, 400, /UTF-8/);
      }
      const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), valid]);
      assertApiError(await postJson(url, path, undefined, { rawBody: bom }), path, 400, /byte order mark/);
      const utf16 = { headers: { 'content-type': 'application/json; charset=utf-16' }, rawBody: valid };
      assertApiError(await postJson(url, path, undefined, utf16), path, 400, /UTF-8/);
      const repeated = '{"title":"a","title":"b"}';
      assertApiError(await postJson(url, path, undefined, { rawBody: repeated }), path, 400, /repeats a key/);
    }
  });
});

test('a key repeated in any spelling, at any depth, is refused; the same key in two objects is not', async () => {
  await withTestMaster(async ({ url, api }) => {
    await formatTestNode(url, { partitions: 1 });
    const random = seededChoices(42);
    for (let round = 0; round < 200; round++) {
      const key = randomString(random);
      const spellings = [JSON.stringify(key), escapedJsonString(key)];
      const first = spellings[random(2)] ?? '';
      const second = spellings[random(2)] ?? '';
      const parameters =
        round % 2 === 0 ? `{${first}:1,"x":{},${second}:2}` : `{"n":{${first}:1,${second}:2}}`;
      const raw = `{"title":"T","software_release_uri":"${SR}","software_type":"x","parameters":${parameters}}`;
      const response = await postJson(url, REQUEST, undefined, { rawBody: raw });
      assertApiError(response, REQUEST, 400, /repeats a key/);
    }
    const sameKeyTwice = `{"title":"T","software_release_uri":"${SR}","software_type":"x","parameters":{"a":{"a":{"a":1}}}}`;
    const accepted = await postJson(url, REQUEST, undefined, { rawBody: sameKeyTwice });
    assert.equal(accepted.status, 200, accepted.text);
    assert.deepEqual((accepted.body as { parameters: unknown }).parameters, { a: "{'a': {'a': 1}}" });
    assert.equal((await api('/slapos.get.v0.instance_tree', { title: 'T' })).status, 200);
  });
});

test('parameter values in any valid UTF-8 are stored exactly (strict decoding changes nothing valid)', async () => {
  await withTestMaster(async ({ url }) => {
    await formatTestNode(url, { partitions: 1 });
    const random = seededChoices(7);
    const parameters: Record<string, string> = {};
    // Values XML can carry: no controls but tab, CR, LF; no lone surrogates; no U+FFFE/U+FFFF.
    const storable = [...STORABLE_UNITS, ' ', '\u2029', '\ufffd', '\u{10FFFF}'];
    for (let i = 0; i < 300; i++) {
      let value = '';
      for (let length = random(12); length > 0; length--) value += storable[random(storable.length)];
      parameters[`k${i}`] = value;
    }
    const body = { title: 'T', software_release_uri: SR, software_type: 'x', parameters };
    const response = await postJson(url, REQUEST, body);
    assert.equal(response.status, 200, response.text);
    const stored = (response.body as { parameters: Record<string, string | null> }).parameters;
    for (const [key, value] of Object.entries(parameters))
      assert.equal(stored[key], value === '' ? null : value, key);
  });
});

test('the 80,000-descending-keys request is refused at once and other requests are served meanwhile', async () => {
  await withTestMaster(async ({ url, api }) => {
    await formatTestNode(url, { partitions: 2 });
    const keys: Record<string, string> = {};
    for (let i = 80_000; i > 0; i--) keys[i.toString(36)] = '';
    const hostile = JSON.stringify({
      title: 'H',
      software_release_uri: SR,
      software_type: 'x',
      parameters: keys,
    });
    assert.ok(hostile.length <= BODY_LIMIT_BYTES, `${hostile.length} bytes`);
    const refused = postJson(url, REQUEST, undefined, { rawBody: hostile });
    const cheap = await postJson(url, '/slapos.get.v0.hateoas_url', {});
    assert.equal(cheap.status, 200, cheap.text);
    assertApiError(await refused, REQUEST, 413, new RegExp(`more than ${MAX_OBJECT_MEMBERS} members`));

    // The other parameter dictionaries have the same cap.
    const connection = await postJson(url, '/slapos.put.v0.software_instance_connection_parameter', {
      instance_guid: 'H______0',
      connection_parameter_dict: keys,
    });
    assertApiError(connection, '/slapos.put.v0.software_instance_connection_parameter', 413);
    const sla = await postJson(url, REQUEST, {
      title: 'H',
      software_release_uri: SR,
      software_type: 'x',
      sla_parameters: Object.fromEntries(
        Object.keys(keys)
          .slice(0, MAX_OBJECT_MEMBERS + 1)
          .map((key) => [key, 'x']),
      ),
    });
    assertApiError(sla, REQUEST, 413, new RegExp(`more than ${MAX_OBJECT_MEMBERS} members`));
    const values = await postJson(url, REQUEST, {
      title: 'H',
      software_release_uri: SR,
      software_type: 'x',
      parameters: { list: new Array<number>(MAX_JSON_VALUES).fill(0) },
    });
    assertApiError(values, REQUEST, 413, new RegExp(`more than ${MAX_JSON_VALUES} values`));

    // The largest dictionary allowed, in descending order, with values filling the stored parameter
    // XML (about 40 bytes of markup per key): accepted, sorted.
    const largest: Record<string, string> = {};
    const valueLength = Math.floor((MAX_PARAMETER_XML_BYTES - 4096) / MAX_OBJECT_MEMBERS) - 40;
    for (let i = MAX_OBJECT_MEMBERS; i > 0; i--)
      largest[`key${String(i).padStart(5, '0')}`] = 'v'.repeat(valueLength);
    const accepted = await api(REQUEST, {
      title: 'L',
      software_release_uri: SR,
      software_type: 'x',
      parameters: largest,
    });
    assert.equal(accepted.status, 200);
    const stored = Object.keys((accepted.body as { parameters: object }).parameters);
    assert.equal(stored.length, MAX_OBJECT_MEMBERS);
    assert.deepEqual(stored, Object.keys(largest).reverse());
  });
});

/** A random storable value whose parameter XML, under `key`, takes exactly `bytes` bytes. */
function valueFillingXml(random: (below: number) => number, key: string, bytes: number): string {
  const xmlBytes = (value: string): number => Buffer.byteLength(encodeParameterXml({ [key]: value }));
  let value = '';
  // Random units while far from the cap (each costs at most 8 bytes of XML), then 'a's (1 byte each).
  while (xmlBytes(value) < bytes - 64 * 1024) {
    for (let i = 0; i < 4096; i++) value += STORABLE_UNITS[random(STORABLE_UNITS.length)];
  }
  return value + 'a'.repeat(bytes - xmlBytes(value));
}

test('parameters up to the stored-size caps round-trip exactly; one byte more is a 413', async () => {
  await withTestMaster(async ({ url, api }) => {
    await formatTestNode(url, { partitions: 2 });
    const random = seededChoices(2026);
    for (const round of [0, 1]) {
      const key = `big${round}`;
      const value = valueFillingXml(random, key, MAX_PARAMETER_XML_BYTES);
      const body = {
        title: `B${round}`,
        software_release_uri: SR,
        software_type: 'x',
        parameters: { [key]: value },
      };
      const accepted = await postJson(url, REQUEST, body);
      assert.equal(accepted.status, 200, accepted.text.slice(0, 200));
      const tree = await api('/slapos.get.v0.instance_tree', { title: `B${round}` });
      assert.equal(tree.status, 200);
      assert.equal((tree.body as { parameters: Record<string, string> }).parameters[key], value);

      const over = await postJson(url, REQUEST, { ...body, parameters: { [key]: `${value}a` } });
      assertApiError(
        over,
        REQUEST,
        413,
        new RegExp(`take ${MAX_PARAMETER_XML_BYTES + 1} bytes stored; at most ${MAX_PARAMETER_XML_BYTES}`),
      );
      // Text alone over the cap: refused before it is encoded.
      const text = { ...body, parameters: { [key]: 'x'.repeat(MAX_PARAMETER_XML_BYTES - key.length + 1) } };
      const overText = await postJson(url, REQUEST, text);
      assertApiError(
        overText,
        REQUEST,
        413,
        new RegExp(
          `more than ${MAX_PARAMETER_XML_BYTES + 1} bytes stored; at most ${MAX_PARAMETER_XML_BYTES}`,
        ),
      );
      const still = await api('/slapos.get.v0.instance_tree', { title: `B${round}` });
      assert.equal((still.body as { parameters: Record<string, string> }).parameters[key], value);

      const guid = (tree.body as { instance_guid: string }).instance_guid;
      const CONNECTION = '/slapos.put.v0.software_instance_connection_parameter';
      const connection = await postJson(url, CONNECTION, {
        instance_guid: guid,
        connection_parameter_dict: { [key]: value },
      });
      assert.equal(connection.status, 200, connection.text.slice(0, 200));
      const connectionOver = await postJson(url, CONNECTION, {
        instance_guid: guid,
        connection_parameter_dict: { [key]: `${value}a` },
      });
      assertApiError(connectionOver, CONNECTION, 413, new RegExp(`at most ${MAX_PARAMETER_XML_BYTES}`));
      const published = await api('/slapos.get.v0.software_instance', { instance_guid: guid });
      assert.equal(
        (published.body as { connection_parameters: Record<string, string> }).connection_parameters[key],
        value,
      );
    }
    const sla = Object.fromEntries(
      Array.from({ length: Math.ceil(MAX_SLA_JSON_BYTES / 4000) + 1 }, (_, i) => [`s${i}`, 'x'.repeat(4000)]),
    );
    const slaOver = await postJson(url, REQUEST, {
      title: 'S',
      software_release_uri: SR,
      software_type: 'x',
      sla_parameters: sla,
    });
    assertApiError(slaOver, REQUEST, 413, new RegExp(`at most ${MAX_SLA_JSON_BYTES}`));
    const trees = await api('/slapos.allDocs.v0.instance_tree_list', {});
    assert.deepEqual((trees.body as { result_list: unknown[] }).result_list, [
      { title: 'B0' },
      { title: 'B1' },
    ]);
  });
});

test('a format lists at most 1000 partitions of at most 64 addresses', async () => {
  await withTestMaster(async ({ url }) => {
    const FORMAT = '/slapos.put.v0.compute_node_format';
    const partitions = (count: number, addresses = 1): unknown[] =>
      Array.from({ length: count }, (_, i) => ({
        partition_id: `p${i}`,
        ip_list: Array.from({ length: addresses }, (_, j) => ({ 'ip-address': `10.0.${i % 250}.${j}` })),
      }));
    const over = await postJson(url, FORMAT, {
      computer_guid: 'c',
      compute_partition_list: partitions(ARRAY_CAPS.compute_partition_list! + 1),
    });
    assertApiError(over, FORMAT, 400, /more than 1000 items/);
    const addresses = await postJson(url, FORMAT, {
      computer_guid: 'c',
      compute_partition_list: partitions(1, ARRAY_CAPS.ip_list! + 1),
    });
    assertApiError(addresses, FORMAT, 400, /more than 64 items/);
    const largest = await postJson(url, FORMAT, {
      computer_guid: 'c',
      compute_partition_list: partitions(ARRAY_CAPS.compute_partition_list!),
    });
    assert.equal(largest.status, 200, largest.text);
  });
});

interface Outcome {
  status?: number;
  body?: unknown;
  headers?: Record<string, string | string[] | undefined>;
  text?: string;
  error?: string;
}

function viaFetch(url: string, body: Buffer): Promise<Outcome> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(30_000),
  })
    .then(async (response) => {
      const text = await response.text();
      return {
        status: response.status,
        text,
        body: JSON.parse(text) as unknown,
        headers: Object.fromEntries(response.headers),
      };
    })
    .catch((error: unknown) => ({ error: String((error as { cause?: unknown }).cause ?? error) }));
}

/** node:http without an agent: `Connection: close`, the case where the server closes after its answer. */
function viaNodeHttp(url: string, body: Buffer, method = 'POST'): Promise<Outcome> {
  return new Promise((resolve) => {
    const request = httpRequest(
      url,
      {
        method,
        agent: false,
        timeout: 30_000,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            text,
            body: JSON.parse(text) as unknown,
            headers: response.headers,
          }),
        );
        response.on('error', (error) => resolve({ error: String(error) }));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve({ error: String(error) }));
    request.end(body);
  });
}

/**
 * A raw client that writes its whole request and only then starts reading, after `readDelayMs`:
 * what a busy client does. An answer followed by a reset while it is still sending is lost to it.
 */
function viaLateReader(url: string, path: string, body: Buffer, readDelayMs: number): Promise<Outcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => socket.destroy(new Error('timeout')), 30_000);
    const done = (outcome: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.pause();
    socket.on('error', (error) => done({ error: `${String(error)} after ${received.length} bytes` }));
    socket.on('connect', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body);
      setTimeout(() => {
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          received += chunk;
          const end = received.indexOf('\r\n\r\n');
          const length = /\r\ncontent-length: *(\d+)/i.exec(received)?.[1];
          if (end >= 0 && length !== undefined && received.length >= end + 4 + Number(length)) {
            const text = received.slice(end + 4);
            const headers = rawResponseHeaders(received.slice(0, end));
            done({ status: Number(received.slice(9, 12)), text, body: JSON.parse(text) as unknown, headers });
          }
        });
        socket.on('end', () => done({ error: `closed after ${received.length} bytes` }));
        socket.resume();
      }, readDelayMs);
    });
  });
}

test('a 2 MiB body gets the 413 and its error body on every path, whatever the client', async () => {
  await withTestMaster(async ({ url, api }) => {
    const body = Buffer.alloc(2 * 1024 * 1024, 'x');
    const jobs: (() => Promise<[string, Outcome]>)[] = [];
    for (let round = 0; round < 3; round++) {
      for (const path of [...ALL_PATHS, '/slapos.get.v0.nothing']) {
        jobs.push(async () => [`fetch ${path}`, await viaFetch(`${url}${path}`, body)]);
        jobs.push(async () => [`node:http ${path}`, await viaNodeHttp(`${url}${path}`, body)]);
        jobs.push(async () => [`late reader ${path}`, await viaLateReader(url, path, body, 100)]);
      }
      for (const path of [REQUEST, EXTENSION_SPEC_URL_PATH, '/nothing']) {
        jobs.push(async () => [`GET ${path}`, await viaNodeHttp(`${url}${path}`, body, 'GET')]);
      }
    }
    let next = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++];
          if (!job) break;
          const [label, outcome] = await job();
          const problem =
            outcome.error ??
            (outcome.status !== 413
              ? `status ${String(outcome.status)}`
              : (apiResponseProblem(REQUEST, 413, outcome.body) ??
                apiContentTypeProblem({ headers: outcome.headers ?? {} })));
          if (problem) failures.push(`${label}: ${problem}`);
        }
      }),
    );
    assert.deepEqual(failures, []);
    assert.ok(jobs.length >= 3 * 3 * ALL_PATHS.length);
    // Within the discard bound, even a client that reads late gets the whole answer.
    const nearBound = await viaLateReader(url, REQUEST, Buffer.alloc(DISCARD_LIMIT_BYTES - 1024, 'x'), 300);
    assert.equal(nearBound.status, 413, nearBound.error);
    assert.equal((await api('/slapos.get.v0.hateoas_url', {})).status, 200);
  });
});

test('a body far past the discard bound ends in a 413 or a closed connection, never a hang', async () => {
  await withTestMaster(async ({ url, api }) => {
    const huge = Buffer.alloc(4 * DISCARD_LIMIT_BYTES, 'x');
    const outcomes = await Promise.all([
      viaFetch(`${url}${REQUEST}`, huge),
      viaNodeHttp(`${url}${REQUEST}`, huge),
      viaLateReader(url, REQUEST, huge, 300),
    ]);
    for (const outcome of outcomes) {
      if (outcome.error === undefined) assert.equal(outcome.status, 413, outcome.text);
      else assert.doesNotMatch(outcome.error, /timeout/);
    }
    // Streamed without a length: the same.
    const chunked = await fetch(`${url}${REQUEST}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let sent = 0; sent < huge.length; sent += 65_536)
            controller.enqueue(huge.subarray(sent, sent + 65_536));
          controller.close();
        },
      }),
      duplex: 'half',
      signal: AbortSignal.timeout(30_000),
    }).then(
      (response) => `${response.status}`,
      (error: unknown) => String((error as { cause?: unknown }).cause ?? error),
    );
    assert.doesNotMatch(chunked, /timeout|abort/i);
    if (/^\d+$/.test(chunked)) assert.equal(chunked, '413');
    assert.equal((await api('/slapos.get.v0.hateoas_url', {})).status, 200);
  });
});
