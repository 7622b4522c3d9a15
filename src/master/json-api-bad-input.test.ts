/**
 * Bad input sent to every path of the API: malformed JSON, wrong content types and methods, wrong
 * types, unknown and missing fields, absurd strings, oversized and deeply nested bodies, unknown
 * compute nodes and partitions. Each must be a 4xx with the API's error body (Content-Type exactly
 * `application/json`), and the database must not change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import type { Dispatcher } from 'undici';
import { loadApiSpec, loadExperimentalApiSpec } from '../api/index.ts';
import { apiResponseProblem } from '../testing/api-schema.ts';
import { apiContentTypeProblem, postJson, withTestMaster } from '../testing/master.ts';
import { prepareValidBodiesMaster, VALID } from '../testing/api-valid-bodies.ts';

/** Requests that name compute nodes, partitions or instances that do not exist: 403, nothing written. */
const UNKNOWN_REFERENCES: [string, Record<string, unknown>][] = [
  [
    '/slapos.post.v0.software_instance',
    {
      ...VALID['/slapos.post.v0.software_instance'],
      title: 'New',
      sla_parameters: { computer_guid: 'NOPE' },
    },
  ],
  [
    '/slapos.post.v0.software_instance',
    { title: 'S', software_release_uri: 'http://none', software_type: 'x', shared: true },
  ],
  ['/slapos.get.v0.compute_partition', { computer_guid: 'NOPE', compute_partition_id: 'slappart0' }],
  ['/slapos.get.v0.compute_partition', { computer_guid: 'computer', compute_partition_id: 'slappart9' }],
  ['/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'NOPE' }],
  ['/slapos.allDocs.v0.compute_node_software_installation_list', { computer_guid: 'NOPE' }],
  ['/slapos.allDocs.v0.instance_node_instance_list', { instance_guid: 'Nobody______0' }],
  ['/slapos.get.v0.software_instance', { instance_guid: 'Nobody______0' }],
  ['/slapos.get.v0.instance_tree', { title: 'Nobody' }],
  [
    '/slapos.put.v0.software_instance_reported_state',
    { instance_guid: 'Nobody______0', reported_state: 'destroyed' },
  ],
];

const FREE_TEXT = new Set(['message', 'tioxml']);
const MAY_BE_EMPTY = new Set(['software_type', 'instance_guid', 'message', 'tioxml']);

/** Values a string property must refuse. */
function absurdStrings(name: string): string[] {
  if (FREE_TEXT.has(name)) return ['nul \u0000 inside', 'unpaired \ud800 surrogate'];
  const values = [
    'x'.repeat(10_000),
    'bell \u0007',
    'new\nline',
    'del \u007f',
    '../../etc/passwd',
    'a/../b',
    '..',
  ];
  if (!MAY_BE_EMPTY.has(name)) values.push('');
  return values;
}

function wrongTypes(value: unknown): unknown[] {
  if (typeof value === 'string') return [123, null, true, ['x'], { x: 'y' }];
  if (typeof value === 'boolean') return ['true', 1, null];
  if (Array.isArray(value)) return [{}, 'x', null];
  if (typeof value === 'object' && value !== null) return ['x', [], null, 1];
  return ['x', {}];
}

interface Case {
  name: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  method?: Dispatcher.HttpMethod;
}

function deep(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = { d: value };
  return value;
}

function corpus(path: string, valid: Record<string, unknown>): Case[] {
  const cases: Case[] = [
    { name: 'malformed JSON', raw: '{"title": ' },
    { name: 'truncated JSON', raw: '{' },
    { name: 'empty body', raw: '' },
    { name: 'trailing garbage', raw: `${JSON.stringify(valid)} x` },
    { name: 'array body', body: [valid] },
    { name: 'string body', body: 'x' },
    { name: 'number body', body: 1 },
    { name: 'null body', body: null },
    { name: 'text/plain', raw: JSON.stringify(valid), headers: { 'content-type': 'text/plain' } },
    { name: 'form body', raw: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    { name: 'unknown field', body: { ...valid, unexpected: 'x' } },
    { name: 'prototype key', raw: `{"__proto__": {"admin": true}, ${JSON.stringify(valid).slice(1)}` },
    { name: 'deep nesting', body: { ...valid, nested: deep(200) } },
    { name: 'over 1 MiB', body: { ...valid, padding: 'x'.repeat(1024 * 1024 + 10) } },
    { name: 'GET', method: 'GET' },
    { name: 'PUT', body: valid, method: 'PUT' },
    { name: 'DELETE', method: 'DELETE' },
    { name: 'Accept text/html', body: valid, headers: { accept: 'text/html' } },
    { name: 'Accept json q=0', body: valid, headers: { accept: 'application/json;q=0, text/html' } },
  ];
  for (const [name, value] of Object.entries(valid)) {
    const { [name]: _removed, ...without } = valid;
    const schema = (loadApiSpec().paths[path] ?? loadExperimentalApiSpec().paths[path])?.post.requestBody
      ?.content['application/json'].schema as { required?: string[] };
    if (schema.required?.includes(name)) cases.push({ name: `missing ${name}`, body: without });
    for (const wrong of wrongTypes(value))
      cases.push({ name: `${name} = ${JSON.stringify(wrong)}`, body: { ...valid, [name]: wrong } });
    if (typeof value === 'string') {
      for (const absurd of absurdStrings(name)) {
        cases.push({
          name: `${name} = ${JSON.stringify(absurd.slice(0, 20))}`,
          body: { ...valid, [name]: absurd },
        });
      }
    }
  }
  if (path.endsWith('software_instance')) {
    cases.push(
      { name: 'state unknown', body: { ...valid, state: 'running' } },
      { name: 'parameter with a control character', body: { ...valid, parameters: { a: 'x\u0001' } } },
      { name: 'parameter key with NUL', body: { ...valid, parameters: { 'a\u0000': 'x' } } },
      { name: 'parameters nested too deep', body: { ...valid, parameters: { a: deep(100) } } },
      { name: 'sla value not a string', body: { ...valid, sla_parameters: { x: 1 } } },
      { name: 'sla retention not a number', body: { ...valid, sla_parameters: { retention_delay: 'x' } } },
      { name: 'sla computer traversal', body: { ...valid, sla_parameters: { computer_guid: '../x' } } },
      { name: 'title over 200', body: { ...valid, title: 'x'.repeat(201) } },
    );
  }
  if (path.endsWith('connection_parameter')) {
    cases.push({
      name: 'connection value with ESC',
      body: { ...valid, connection_parameter_dict: { a: '\u001b[0m' } },
    });
  }
  if (path.endsWith('compute_node_format')) {
    cases.push(
      {
        name: 'partition id traversal',
        body: { ...valid, compute_partition_list: [{ partition_id: '../../root' }] },
      },
      {
        name: 'partition id with slash',
        body: { ...valid, compute_partition_list: [{ partition_id: '..' }] },
      },
      { name: 'partition without id', body: { ...valid, compute_partition_list: [{ ip_list: [] }] } },
      {
        name: 'ip without address',
        body: { ...valid, compute_partition_list: [{ partition_id: 'p', ip_list: [{ netmask: 'x' }] }] },
      },
      {
        name: 'interface control',
        body: {
          ...valid,
          compute_partition_list: [
            { partition_id: 'p', ip_list: [{ 'ip-address': 'a', 'network-interface': 'tap\n' }] },
          ],
        },
      },
      {
        name: 'duplicated partitions',
        body: { ...valid, compute_partition_list: [{ partition_id: 'p' }, { partition_id: 'p' }] },
      },
    );
  }
  if (path.endsWith('reported_state'))
    cases.push({ name: 'reported state unknown', body: { ...valid, reported_state: 'exploded' } });
  return cases;
}

/** Every row of every table: what must not change. */
function snapshot(databasePath: string): string {
  const db = new BetterSqlite3(databasePath, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all();
    return JSON.stringify(
      tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all()]),
    );
  } finally {
    db.close();
  }
}

test('every path answers bad input with a 4xx and the error body, and writes nothing', async () => {
  await withTestMaster(async ({ url, api, databasePath }) => {
    await prepareValidBodiesMaster(url, api);

    const paths = Object.keys({ ...loadApiSpec().paths, ...loadExperimentalApiSpec().paths });
    assert.deepEqual(paths.sort(), Object.keys(VALID).sort(), 'a valid body for every path of the contract');
    const before = snapshot(databasePath);
    let count = 0;
    for (const path of paths) {
      const valid = VALID[path] ?? {};
      for (const entry of corpus(path, valid)) {
        const response = await postJson(url, path, entry.body, {
          ...(entry.headers ? { headers: entry.headers } : {}),
          ...(entry.method ? { method: entry.method } : {}),
          ...(entry.raw !== undefined ? { rawBody: entry.raw } : {}),
        });
        const label = `${path} ${entry.name}: ${response.status} ${response.text.slice(0, 200)}`;
        assert.ok(response.status >= 400 && response.status < 500, label);
        assert.equal(apiResponseProblem(path, response.status, response.body), undefined, label);
        assert.equal(apiContentTypeProblem(response), undefined, label);
        if (response.status === 405) assert.equal(response.headers.allow, 'POST', label);
        count++;
      }
      assert.equal(snapshot(databasePath), before, `${path}: the database changed`);
    }
    for (const [path, body] of UNKNOWN_REFERENCES) {
      const response = await postJson(url, path, body);
      const label = `${path} ${JSON.stringify(body)}: ${response.text}`;
      assert.equal(response.status, 403, label);
      assert.equal(apiResponseProblem(path, response.status, response.body), undefined, label);
      assert.equal(apiContentTypeProblem(response), undefined, label);
    }
    const unknownPath = await postJson(url, '/slapos.get.v0.nothing', {});
    assert.equal(unknownPath.status, 404);
    assert.equal(apiResponseProblem('/slapos.get.v0.nothing', 404, unknownPath.body), undefined);
    assert.equal(apiContentTypeProblem(unknownPath), undefined);
    const traversal = await postJson(url, '/../../etc/passwd', {});
    assert.equal(traversal.status, 404);
    assert.equal(apiContentTypeProblem(traversal), undefined);
    assert.equal(snapshot(databasePath), before, 'unknown references changed the database');
    assert.ok(count > 500, `only ${count} cases`);
    // The master still works.
    assert.equal(
      (await api('/slapos.get.v0.software_instance', { instance_guid: 'Root______0' })).status,
      200,
    );
  });
});
