/**
 * The JSON API v0 contract. `slapos-json-rpc.json` (+ the experimental file) is the source of truth,
 * copied from shared/spec; `slapos-extensions.json` documents our own routes (the change stream);
 * `generated*.ts` are their types (regenerate with `npm run api:types`).
 */
import { readFileSync } from 'node:fs';
import type { paths as StablePaths } from './generated.ts';
import type { paths as ExperimentalPaths } from './generated-experimental.ts';
import type { paths as ExtensionPaths } from './generated-extensions.ts';

export type ApiPaths = StablePaths & ExperimentalPaths & ExtensionPaths;
export type ApiPath = keyof ApiPaths;

type JsonBody<T> = T extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON body a path accepts. */
export type ApiRequest<P extends ApiPath> = JsonBody<NonNullable<ApiPaths[P]['post']['requestBody']>>;
/** The JSON body a path answers with on success (200). */
export type ApiResponse<P extends ApiPath> = JsonBody<ApiPaths[P]['post']['responses'][200]>;

/** The error body of every JSON API error (any status). */
export interface ApiErrorBody {
  status: number;
  type: string;
  title: string;
}

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  paths: Record<string, { post: OpenApiOperation }>;
}

export interface OpenApiOperation {
  requestBody?: {
    content: { 'application/json': { schema: Record<string, unknown> } };
    description?: string;
  };
  responses: Record<string, { content?: { 'application/json': { schema: Record<string, unknown> } } }>;
}

/**
 * The text of one of the contract files: beside this module when it runs from source (tsx), in
 * `src/api/` of the package when it runs compiled (`dist/src/api/`).
 */
export function apiSpecText(file: string): string {
  const url = import.meta.url.endsWith('.ts')
    ? new URL(`./${file}`, import.meta.url)
    : new URL(`../../../src/api/${file}`, import.meta.url);
  return readFileSync(url, 'utf8');
}

function load(file: string): OpenApiDocument {
  return JSON.parse(apiSpecText(file)) as OpenApiDocument;
}

/** The stable contract (slapos-json-rpc.json). */
export function loadApiSpec(): OpenApiDocument {
  return load('slapos-json-rpc.json');
}

/** The experimental contract (slapos-json-rpc-experimental.json). */
export function loadExperimentalApiSpec(): OpenApiDocument {
  return load('slapos-json-rpc-experimental.json');
}

/** Our own routes beside the contract (slapos-extensions.json): the change stream. */
export function loadExtensionApiSpec(): OpenApiDocument {
  return load('slapos-extensions.json');
}

/** Where the master serves `slapos-extensions.json`. */
export const EXTENSION_SPEC_URL_PATH = '/api/slapos-extensions.json';

/**
 * The longest wait of `/slapos.watch.ext.compute_node_revision` (the schema's `maximum`), in ms:
 * under the master's HTTP request timeout (60 s).
 */
export const MAX_WATCH_TIMEOUT_MS = 50_000;

/**
 * The most a promise-result list may take as stored JSON (our extension's limit, docs/master.md
 * "Limits"): the node shortens the messages to fit, the master refuses more with 413.
 */
export const MAX_PROMISE_RESULTS_JSON_BYTES = 256 * 1024;

/** Headers naming the partition that requests an instance (our extension; lower case, as Node reads them). */
export const REQUESTER_COMPUTER_HEADER = 'x-slapos-requester-computer-guid';
export const REQUESTER_PARTITION_HEADER = 'x-slapos-requester-partition-id';
