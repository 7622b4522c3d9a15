/**
 * A real master for tests: a temporary directory, a fresh database (SQLite in the directory, or a
 * PostgreSQL database when the run says SLAPOS_TEST_STORE=postgres: testing/test-database.ts), an
 * ephemeral port on 127.0.0.1. `close()` stops it and removes the directory and the database.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Dispatcher } from 'undici';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { MasterApiSelection } from '../master/api-selection.ts';
import { startMaster, type RunningMaster } from '../master/server.ts';
import type { DatabaseLocation } from '../master/storage/database-location.ts';
import { apiResponseProblem } from './api-schema.ts';
import { createTestPostgresDatabase, testStoreKind, type TestDatabase } from './test-database.ts';

export interface TestMaster {
  url: string;
  port: number;
  directory: string;
  database: DatabaseLocation;
  /** The SQLite file, for tests that open it directly (SQLite runs only: throws on PostgreSQL). */
  readonly databasePath: string;
  master: RunningMaster;
  close: () => Promise<void>;
}

export interface TestMasterOptions {
  /** The default compute node (default 'computer', as in slapproxy's tests). */
  computerId?: string;
  clock?: Clock;
  logger?: Logger;
  /** Require this bearer token on every call. */
  accessToken?: string;
  /** Which APIs are served (default both). */
  api?: MasterApiSelection;
  /** A token that may read `/metrics` only. */
  metricsToken?: string;
  /** `[slapproxy] software_product_list`: product name → software release URL. */
  softwareProductList?: Readonly<Record<string, string>>;
}

export async function startTestMaster(options: TestMasterOptions = {}): Promise<TestMaster> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-test-master-'));
  let postgres: TestDatabase | undefined;
  let master: RunningMaster;
  let database: DatabaseLocation;
  try {
    if (testStoreKind() === 'postgres') postgres = await createTestPostgresDatabase();
    database = postgres?.location ?? { kind: 'sqlite', path: join(directory, 'proxy.db') };
    master = await startMaster({
      host: '127.0.0.1',
      port: 0,
      database,
      computerId: options.computerId ?? 'computer',
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      closeGraceMs: 2_000,
      ...(options.accessToken === undefined ? {} : { accessToken: options.accessToken }),
      ...(options.api === undefined ? {} : { api: options.api }),
      metricsToken: options.metricsToken,
      ...(options.softwareProductList
        ? { softwareProducts: new Map(Object.entries(options.softwareProductList)) }
        : {}),
    });
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    await postgres?.drop();
    throw error;
  }
  return {
    url: master.url,
    port: master.port,
    directory,
    database,
    get databasePath(): string {
      if (database.kind !== 'sqlite')
        throw new Error('this test reads the SQLite file: it runs on SQLite only');
      return database.path;
    },
    master,
    async close() {
      await master.close();
      await rm(directory, { recursive: true, force: true });
      await postgres?.drop();
    },
  };
}

export interface JsonResponse {
  status: number;
  /** Response headers, lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body (undefined when the body is not JSON). */
  body: unknown;
  text: string;
}

/** POSTs a JSON body to one API path of a master (30 s timeout). Any header may be set, Host included. */
export async function postJson(
  url: string,
  path: string,
  body: unknown,
  options: {
    headers?: Record<string, string>;
    method?: Dispatcher.HttpMethod;
    rawBody?: string | Buffer;
  } = {},
): Promise<JsonResponse> {
  const method: Dispatcher.HttpMethod = options.method ?? 'POST';
  const response = await request(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: options.rawBody ?? JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.body.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.statusCode, headers: response.headers, body: parsed, text };
}

export interface TestNodeOptions {
  /** Compute node id (default 'computer'). */
  computerGuid?: string;
  /** A number of partitions `slappart0…N-1`, or their ids. */
  partitions: number | string[];
  /** Addresses of every partition (default tap0 1.2.3.4 and 4.3.2.1, as slapproxy's tests). */
  addresses?: { 'ip-address': string; 'network-interface': string; netmask?: string }[];
}

/** Formats a compute node through the JSON API; throws unless the master accepts it. */
export async function formatTestNode(url: string, options: TestNodeOptions): Promise<void> {
  const ids =
    typeof options.partitions === 'number'
      ? Array.from({ length: options.partitions }, (_, index) => `slappart${index}`)
      : options.partitions;
  const addresses = options.addresses ?? [
    { 'ip-address': '1.2.3.4', 'network-interface': 'tap0', netmask: '255.255.255.255' },
    { 'ip-address': '4.3.2.1', 'network-interface': 'tap0', netmask: '255.255.255.255' },
  ];
  const response = await callApi(url, '/slapos.put.v0.compute_node_format', {
    computer_guid: options.computerGuid ?? 'computer',
    compute_partition_list: ids.map((id) => ({ partition_id: id, ip_list: addresses })),
  });
  if (response.status !== 200)
    throw new Error(`format failed: ${response.status} ${JSON.stringify(response.body)}`);
}

/** The Content-Type of every JSON API answer, errors included: slapproxy's, with no charset. */
const API_CONTENT_TYPE = 'application/json';

/** Why an answer's Content-Type is not exactly `application/json`, or undefined when it is. */
export function apiContentTypeProblem(response: Pick<JsonResponse, 'headers'>): string | undefined {
  const contentType = response.headers['content-type'];
  if (contentType === API_CONTENT_TYPE) return undefined;
  return `Content-Type is ${JSON.stringify(contentType)}, expected exactly "${API_CONTENT_TYPE}" (no charset)`;
}

/**
 * POSTs to an API path and checks the answer against the contract (throws if it does not
 * conform, or if its Content-Type is not exactly `application/json`). Every response body a test
 * looks at goes through here or through `postJson` + both checks.
 */
export async function callApi(
  url: string,
  path: string,
  body: unknown,
  options: { headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown; headers: JsonResponse['headers'] }> {
  const response = await postJson(url, path, body, options);
  const problem = apiContentTypeProblem(response) ?? apiResponseProblem(path, response.status, response.body);
  if (problem) throw new Error(`${path} answered ${response.status} ${response.text}: ${problem}`);
  return { status: response.status, body: response.body, headers: response.headers };
}

export interface ApiHarness extends TestMaster {
  /** POST + contract check (see callApi). */
  api: (
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ) => Promise<{ status: number; body: unknown }>;
}

/** Starts a test master, runs `work` with an API harness, and always closes the master. */
export async function withTestMaster(
  work: (harness: ApiHarness) => Promise<void>,
  options: TestMasterOptions = {},
): Promise<void> {
  const master = await startTestMaster(options);
  try {
    // Not a spread: it would read `databasePath`, which throws on PostgreSQL.
    const harness = Object.create(master, {
      api: {
        value: (path: string, body: unknown, headers?: Record<string, string>) =>
          callApi(master.url, path, body, headers ? { headers } : {}),
      },
    }) as ApiHarness;
    await work(harness);
  } finally {
    await master.close();
  }
}

/** The header fields of a raw HTTP/1.1 response head (status line excluded), names in lower case. */
export function rawResponseHeaders(head: string): Record<string, string> {
  return Object.fromEntries(
    head
      .split('\r\n')
      .slice(1)
      .map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
  );
}
