/**
 * The JSON schema a software release publishes for its parameters, as SlapOS publishes it:
 * `<software release>.json` (`software.cfg.json` beside `software.cfg`) lists the software types
 * (`software-type` → entry with `title`, `description`, `request` = the input schema, `shared`,
 * `software-type` when the entry's key is not the type's name, `serialisation`, `index`); the input
 * schema and the documents its `$ref`s name are read relative to the document naming them.
 *
 * Reading is hostile territory: the release's URL is the requester's. http(s) only (a local path
 * or `file:` URL only in proxy mode: in master mode the master must not read its own files for a
 * user, nor reach addresses that are not public), 1 MB per document, one deadline for the whole
 * schema, at most 20 documents, each document cached 60 s (bounded LRU, per service context).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SlapError } from '../../core/errors.ts';
import { BoundedFetchError, boundedFetch } from '../../lib/bounded-fetch.ts';
import { isJsonObject, normaliseSchema, type JsonObject } from '../../lib/json-schema.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';

/** A software type as `software.cfg.json` lists it. */
export interface SoftwareTypeEntry {
  /** The entry's key (what the request form's `software_type` names). */
  key: string;
  /** The software type to request (the entry's `software-type`, or its key). */
  softwareType: string;
  title: string;
  description: string;
  shared: boolean;
  index: number;
  serialisation: 'xml' | 'json-in-xml';
  /** The input schema's location, resolved (undefined when the entry names none). */
  request: string | undefined;
}

export interface InputSchema {
  entry: SoftwareTypeEntry;
  /** The input schema's location (its `$id`). */
  url: string;
  schema: JsonObject;
  /** Every document read for it, by location (the input schema included), each with `$id` = location. */
  documents: ReadonlyMap<string, JsonObject>;
}

export interface SoftwareSchema {
  /** Where `software.cfg.json` was read. */
  url: string;
  name: string;
  description: string;
  /** Sorted by `index`, then key. */
  softwareTypes: SoftwareTypeEntry[];
  /** The chosen software type's entry; undefined when none matches. */
  entry: SoftwareTypeEntry | undefined;
  /** Its input schema; undefined when no entry matches or it names none. */
  input: InputSchema | undefined;
}

export interface ReadSoftwareSchemaInput {
  caller: Caller;
  softwareRelease: string;
  /** An entry's key, or a software type (its non-shared entry); default: `default`, else the first. */
  softwareType?: string | undefined;
  /** With a software type: its entry for a shared instance (true) or not (false), to modify an instance. */
  shared?: boolean | undefined;
}

export const SCHEMA_LIMITS = {
  maxBytes: 1024 * 1024,
  timeoutMs: 5000,
  maxDocuments: 20,
  /** How many `$ref` hops from the input schema are followed. */
  maxDepth: 8,
  cacheSeconds: 60,
  cacheEntries: 256,
};

/** A document (undefined: it does not exist) and the URL it was read from after redirects. */
type Cached = { expires: number; document: JsonObject | undefined; url: string };

/** Per service context: documents by requested location, least recently used first. */
const caches = new WeakMap<ServiceContext, Map<string, Cached>>();

function cacheOf(context: ServiceContext): Map<string, Cached> {
  let cache = caches.get(context);
  if (!cache) caches.set(context, (cache = new Map<string, Cached>()));
  return cache;
}

function schemaError(message: string, cause?: unknown): SlapError {
  return new SlapError('SLAP_ERR_SCHEMA_UNREADABLE', message, {
    cause,
    hint: 'The software release publishes its parameters in <software release>.json and the schemas it names.',
  });
}

function refused(message: string): SlapError {
  return new SlapError('SLAP_ERR_SCHEMA_LOCATION_REFUSED', message);
}

/** A location as an absolute URL (a plain path becomes a `file:` URL). */
function asUrl(location: string): URL {
  if (/^[a-z][a-z0-9+.-]*:/i.test(location)) {
    try {
      return new URL(location);
    } catch {
      throw refused(`${JSON.stringify(location)} is not a URL`);
    }
  }
  if (!location.startsWith('/'))
    throw refused(`${JSON.stringify(location)} is neither a URL nor an absolute path`);
  return pathToFileURL(location);
}

async function readLocalFile(url: URL): Promise<Buffer | undefined> {
  let handle;
  try {
    // Non-blocking: a FIFO must not hold the read forever.
    handle = await open(fileURLToPath(url), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw schemaError(`${url.pathname} cannot be read: ${code ?? (error as Error).message}`, error);
  }
  try {
    if (!(await handle.stat()).isFile()) throw schemaError(`${url.pathname} is not a regular file`);
    const buffer = Buffer.alloc(SCHEMA_LIMITS.maxBytes + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, size, buffer.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > SCHEMA_LIMITS.maxBytes)
        throw schemaError(`${url.pathname} is larger than ${SCHEMA_LIMITS.maxBytes} bytes`);
    }
    return buffer.subarray(0, size);
  } catch (error) {
    if (error instanceof SlapError) throw error;
    throw schemaError(`${url.pathname} cannot be read: ${(error as Error).message}`, error);
  } finally {
    await handle.close();
  }
}

/** The text of a document and where it was read from; undefined when it does not exist. */
async function fetchDocument(
  context: ServiceContext,
  url: URL,
  signal: AbortSignal,
): Promise<{ body: Buffer; url: string } | undefined> {
  if (url.protocol === 'file:') {
    if (context.mode !== 'proxy')
      throw refused(`A master in master mode does not read local files for a requester (${url.href}).`);
    const body = await readLocalFile(url);
    return body && { body, url: url.href };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw refused(`Only http and https URLs are read, not ${url.protocol} (${url.href}).`);
  try {
    return await boundedFetch(url.href, {
      maxBytes: SCHEMA_LIMITS.maxBytes,
      signal,
      publicAddressesOnly: context.mode === 'master' && !context.schemaFetch.privateAddresses,
    });
  } catch (error) {
    if (!(error instanceof BoundedFetchError)) throw error;
    if (error.reason === 'absent') return undefined;
    if (error.reason === 'refused') throw refused(`${error.message} (${url.href}).`);
    if (error.reason === 'timeout')
      throw new SlapError(
        'SLAP_ERR_SCHEMA_UNREADABLE',
        `${error.message}: the schema is read within ${context.schemaFetch.timeoutMs} ms.`,
      );
    throw schemaError(error.message, error);
  }
}

/** One JSON object document, through the cache; undefined when it does not exist. */
async function readDocument(
  context: ServiceContext,
  location: URL,
  signal: AbortSignal,
): Promise<{ document: JsonObject; url: string } | undefined> {
  const cache = cacheOf(context);
  const key = location.href;
  const now = context.clock.now();
  const hit = cache.get(key);
  cache.delete(key);
  if (hit && hit.expires > now) {
    cache.set(key, hit);
    return hit.document && { document: hit.document, url: hit.url };
  }
  const fetched = await fetchDocument(context, location, signal);
  let document: JsonObject | undefined;
  if (fetched) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fetched.body.toString('utf8'));
    } catch (error) {
      throw schemaError(`${fetched.url} is not valid JSON: ${(error as Error).message}`, error);
    }
    if (!isJsonObject(parsed)) throw schemaError(`${fetched.url} is not a JSON object`);
    document = parsed;
  }
  const url = fetched?.url ?? key;
  cache.set(key, { expires: now + SCHEMA_LIMITS.cacheSeconds, document, url });
  while (cache.size > SCHEMA_LIMITS.cacheEntries) cache.delete(cache.keys().next().value as string);
  return document && { document, url };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function serialisationOf(value: unknown, fallback: 'xml' | 'json-in-xml'): 'xml' | 'json-in-xml' {
  return value === 'xml' || value === 'json-in-xml' ? value : fallback;
}

function softwareTypesOf(document: JsonObject, base: URL): SoftwareTypeEntry[] {
  const types = document['software-type'];
  if (!isJsonObject(types)) return [];
  const fallback = serialisationOf(document.serialisation, 'xml');
  const entries: SoftwareTypeEntry[] = [];
  for (const [key, entry] of Object.entries(types)) {
    if (!isJsonObject(entry)) continue;
    const request = typeof entry.request === 'string' ? entry.request : undefined;
    let requestUrl: string | undefined;
    try {
      requestUrl = request === undefined ? undefined : new URL(request, base).href;
    } catch {
      throw schemaError(`The software type ${JSON.stringify(key)} names an invalid schema location.`);
    }
    entries.push({
      key,
      softwareType: typeof entry['software-type'] === 'string' ? entry['software-type'] : key,
      title: text(entry.title) || key,
      description: text(entry.description),
      shared: entry.shared === true,
      index:
        typeof entry.index === 'number' && Number.isFinite(entry.index)
          ? entry.index
          : Number.MAX_SAFE_INTEGER,
      serialisation: serialisationOf(entry.serialisation, fallback),
      request: requestUrl,
    });
  }
  return entries.sort((a, b) => a.index - b.index || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function chooseEntry(
  entries: SoftwareTypeEntry[],
  wanted: string | undefined,
  shared: boolean | undefined,
): SoftwareTypeEntry | undefined {
  if (wanted === undefined)
    return entries.find((entry) => entry.key === 'default') ?? entries.find((entry) => !entry.shared);
  if (shared !== undefined)
    return entries.find((entry) => entry.softwareType === wanted && entry.shared === shared);
  return (
    entries.find((entry) => entry.key === wanted) ??
    entries.find((entry) => entry.softwareType === wanted && !entry.shared)
  );
}

/** The documents (without fragment) the `$ref`s of a document name, resolved against its location. */
function referencedDocuments(document: JsonObject, base: string): string[] {
  const found = new Set<string>();
  const stack: unknown[] = [document];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === 'object') stack.push(item);
      continue;
    }
    if (!isJsonObject(node)) continue;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        let target: URL;
        try {
          target = new URL(value, base);
        } catch {
          throw schemaError(`${base} has an invalid $ref ${JSON.stringify(value)}`);
        }
        target.hash = '';
        if (target.href !== base) found.add(target.href);
      } else if (value !== null && typeof value === 'object') stack.push(value);
    }
  }
  return [...found];
}

/**
 * Each cached document normalised once: while it is cached, every read of a schema gets the same
 * objects (the panel compiles a validator once per schema, by these objects).
 */
const normalised = new WeakMap<JsonObject, JsonObject>();

function normalisedOnce(document: JsonObject, location: string): JsonObject {
  let schema = normalised.get(document);
  if (!schema) normalised.set(document, (schema = normaliseSchema(document, location, { replaceId: true })));
  return schema;
}

async function readInputSchema(
  context: ServiceContext,
  entry: SoftwareTypeEntry,
  request: string,
  signal: AbortSignal,
  budget: { documents: number },
): Promise<InputSchema> {
  const documents = new Map<string, JsonObject>();
  let root: { url: string; schema: JsonObject } | undefined;
  let level = [request];
  for (let depth = 0; level.length > 0; depth++) {
    if (depth > SCHEMA_LIMITS.maxDepth)
      throw schemaError(
        `The schema ${request} nests $ref documents deeper than ${SCHEMA_LIMITS.maxDepth} levels.`,
      );
    const next: string[] = [];
    for (const location of level) {
      if (documents.has(location)) continue;
      if (++budget.documents > SCHEMA_LIMITS.maxDocuments)
        throw schemaError(`The schema ${request} needs more than ${SCHEMA_LIMITS.maxDocuments} documents.`);
      const read = await readDocument(context, asUrl(location), signal);
      if (!read) throw schemaError(`${location}, named by the software release's schema, does not exist.`);
      const schema = normalisedOnce(read.document, location);
      documents.set(location, schema);
      root ??= { url: location, schema };
      // Relative to where it was asked for (its `$id`), as the validator resolves them.
      for (const target of referencedDocuments(read.document, location))
        if (!documents.has(target)) next.push(target);
    }
    level = next;
  }
  if (!root) throw schemaError(`${request} could not be read.`);
  return { entry, url: root.url, schema: root.schema, documents };
}

export async function readSoftwareSchema(
  context: ServiceContext,
  input: ReadSoftwareSchemaInput,
): Promise<SoftwareSchema | undefined> {
  await context.authorize(input.caller, 'instance.request', { kind: 'master' });
  const location = asUrl(`${input.softwareRelease}.json`);
  const signal = AbortSignal.timeout(context.schemaFetch.timeoutMs);
  const budget = { documents: 1 };
  const read = await readDocument(context, location, signal);
  if (!read) return undefined;
  // The input schemas are named relative to where software.cfg.json really is (after redirects).
  const softwareTypes = softwareTypesOf(read.document, new URL(read.url));
  const entry = chooseEntry(softwareTypes, input.softwareType, input.shared);
  const input_ =
    entry?.request === undefined
      ? undefined
      : await readInputSchema(context, entry, entry.request, signal, budget);
  return {
    url: read.url,
    name: text(read.document.name),
    description: text(read.document.description),
    softwareTypes,
    entry,
    input: input_,
  };
}
