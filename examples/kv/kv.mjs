#!/usr/bin/env node
// The key-value store of examples/kv, and the tools its backup declaration runs.
//   kv.mjs serve [--log FILE] IP PORT DATA   HTTP service: PUT/GET /kv/<key>, GET /kv, GET /health
//   kv.mjs dump DATA COPY                    consistent copy of DATA's complete lines into COPY
//   kv.mjs restore COPY DATA                 COPY put in place as DATA (atomic rename)
//   kv.mjs check DATA                        DATA parses and its seq numbers increase (exit 0), else exit 1
// DATA holds one JSON line {"k","v","seq"} per acknowledged write, fsynced before the answer.
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { basename, dirname, join } from 'node:path';

const MAX_BODY = 64 * 1024;

function fail(message, code = 1) {
  process.stderr.write(`kv: ${message}\n`);
  process.exit(code);
}

/** The records of a data file's text; a last line without its line break (a torn write) is left out. */
function parseRecords(text) {
  const complete = text.lastIndexOf('\n') + 1;
  const records = [];
  let lineNumber = 0;
  for (const line of text.slice(0, complete).split('\n').slice(0, -1)) {
    lineNumber++;
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      throw new Error(`line ${lineNumber} is not JSON`);
    }
    const previous = records.length === 0 ? 0 : records[records.length - 1].seq;
    if (
      typeof record !== 'object' ||
      record === null ||
      typeof record.k !== 'string' ||
      typeof record.v !== 'string' ||
      !Number.isSafeInteger(record.seq)
    )
      throw new Error(`line ${lineNumber} is not a {"k","v","seq"} record`);
    if (record.seq <= previous) throw new Error(`line ${lineNumber}: seq ${record.seq} does not increase`);
    records.push(record);
  }
  return { records, complete };
}

/** parseRecords of a file the service owns; a damaged one stops the command with a clear message. */
function parseData(path, text) {
  try {
    return parseRecords(text, { strict: false });
  } catch (error) {
    return fail(`${path}: ${error.message} (run kv.mjs check, restore a backup)`);
  }
}

function readText(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return '';
    throw error;
  }
}

/** Writes `text` to `path` through a temporary file, fsync and rename. */
function writeAtomic(path, text) {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  fsyncSync(dir);
  closeSync(dir);
}

function serve(args) {
  let log;
  if (args[0] === '--log') {
    log = args[1];
    args = args.slice(2);
  }
  const [host, portText, data] = args;
  const port = /^[0-9]{1,5}$/.test(portText ?? '') ? Number(portText) : NaN;
  if (args.length !== 3 || !host || !(port >= 1 && port <= 65535) || !data)
    fail(`usage: kv.mjs serve [--log FILE] IP PORT DATA (got ${JSON.stringify(args)})`, 2);
  const record = (line) => log && appendFileSync(log, `${new Date().toISOString()} ${line}\n`);

  const text = readText(data);
  const { records, complete } = parseRecords(text);
  if (complete !== text.length) {
    truncateSync(data, Buffer.byteLength(text.slice(0, complete)));
    record(`dropped a torn last line (${text.length - complete} characters)`);
  }
  const store = new Map(records.map((r) => [r.k, r.v]));
  let seq = records.length === 0 ? 0 : records[records.length - 1].seq;
  const fd = openSync(data, 'a', 0o600);
  let queue = Promise.resolve();

  /** Appends and fsyncs one record, writes one at a time in seq order; resolves with its seq. */
  const append = (k, v) => {
    const result = queue.then(() => {
      const next = seq + 1;
      writeSync(fd, `${JSON.stringify({ k, v, seq: next })}\n`);
      fsyncSync(fd);
      seq = next;
      store.set(k, v);
      return next;
    });
    queue = result.catch(() => undefined);
    return result;
  };

  const json = (response, status, body) =>
    response.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);

  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://kv');
    record(`${request.method} ${url.pathname}`);
    if (url.pathname === '/health' && request.method === 'GET') return json(response, 200, { ok: true, seq });
    if (url.pathname === '/kv' && request.method === 'GET')
      return json(response, 200, Object.fromEntries(store));
    if (!url.pathname.startsWith('/kv/')) return json(response, 404, { error: 'not found' });
    let key;
    try {
      key = decodeURIComponent(url.pathname.slice('/kv/'.length));
    } catch {
      return json(response, 400, { error: 'the key is not percent-encoded UTF-8' });
    }
    if (key === '' || key.length > 1024)
      return json(response, 400, { error: 'a key has 1 to 1024 characters' });
    if (request.method === 'GET') {
      if (!store.has(key)) return json(response, 404, { error: 'no such key' });
      return response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(store.get(key));
    }
    if (request.method !== 'PUT') return json(response, 405, { error: 'GET or PUT' });
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        json(response, 413, { error: `a value has at most ${MAX_BODY} bytes` });
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => {
      let value;
      try {
        value = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        return json(response, 400, { error: 'the value is not UTF-8 text' });
      }
      append(key, value).then(
        (n) => json(response, 200, { seq: n }),
        (error) => json(response, 500, { error: `not stored: ${error.message}` }),
      );
    });
  });
  server.listen(port, host, () => record(`listening on ${host}:${port}`));
  server.on('error', (error) => fail(error.message));
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      record(`${signal}: stopping`);
      server.close(() => queue.then(() => process.exit(0)));
      server.closeAllConnections();
    });
  }
}

function dump([data, copy]) {
  if (!data || !copy) fail('usage: kv.mjs dump DATA COPY', 2);
  // The service only appends: the complete lines read now are a state it acknowledged.
  const text = readText(data);
  const { records, complete } = parseRecords(text);
  writeAtomic(copy, text.slice(0, complete));
  process.stdout.write(`${records.length} records copied into ${copy}\n`);
}

function restore([copy, data]) {
  if (!copy || !data) fail('usage: kv.mjs restore COPY DATA', 2);
  let text;
  try {
    text = readFileSync(copy, 'utf8');
  } catch (error) {
    fail(`cannot read the copy ${copy}: ${error.code ?? error.message}`);
  }
  writeAtomic(data, text);
  process.stdout.write(`${copy} restored as ${data}\n`);
}

function check([data]) {
  if (!data) fail('usage: kv.mjs check DATA', 2);
  let text;
  try {
    text = readFileSync(data, 'utf8');
  } catch (error) {
    fail(`cannot read ${data}: ${error.code ?? error.message}`);
  }
  try {
    const { records, complete } = parseRecords(text);
    const torn =
      complete < text.length ? ` (a torn last line of ${text.length - complete} characters ignored)` : '';
    process.stdout.write(`${data}: ${records.length} records, seq increasing${torn}\n`);
  } catch (error) {
    fail(`${data}: ${error.message}`);
  }
}

const [command, ...rest] = process.argv.slice(2);
const commands = { serve, dump, restore, check };
if (!Object.hasOwn(commands, command)) fail('usage: kv.mjs serve|dump|restore|check ...', 2);
commands[command](rest);
