/**
 * The request handling of the server that `slapos.cookbook:simplehttpserver` runs
 * (simplehttpserver-main.ts): what the original's Python server does.
 *
 * - GET/HEAD serve the files under `--cwd` as Python's SimpleHTTPRequestHandler: the URL path
 *   decoded, `.` and `..` segments dropped; a directory is redirected to its `/` form, then served
 *   as its `index.html`/`index.htm` or an HTML listing; 404 otherwise.
 * - POST (only with `--allow-write`, else 403 like every other method) writes the form's `content`
 *   to its `path` (urlencoded or multipart), relative to `--cwd` and refused (403) outside it;
 *   appended unless `clear=1`.
 * - Each request is logged to the log file (`<time> INFO - <client> - - "<request line>" <status> -`).
 */
import { createReadStream, existsSync, statSync, type Stats } from 'node:fs';
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';

export interface SimpleHttpServerOptions {
  cwd: string;
  logFile: string;
  allowWrite: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.htm': 'text/html',
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.cfg': 'text/plain',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/vnd.microsoft.icon',
  '.pdf': 'application/pdf',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.zip': 'application/zip',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** SimpleHTTPRequestHandler.translate_path: the file a URL path names under `root`. */
export function translatePath(root: string, url: string): string {
  let path = url.split('?')[0]?.split('#')[0] ?? '';
  const trailingSlash = path.endsWith('/');
  try {
    path = decodeURIComponent(path);
  } catch {
    // Python's unquote leaves invalid escapes as they are.
  }
  const words = path.split('/').filter((word) => word !== '' && word !== '.' && word !== '..');
  let file = join(root, ...words);
  if (trailingSlash) file += '/';
  return file;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function listing(res: ServerResponse, directory: string, urlPath: string): Promise<void> {
  const names = (await readdir(directory, { withFileTypes: true }))
    .map((entry) => {
      const suffix = entry.isDirectory() ? '/' : entry.isSymbolicLink() ? '@' : '';
      return {
        display: entry.name + suffix,
        link: encodeURIComponent(entry.name) + (entry.isDirectory() ? '/' : ''),
      };
    })
    .sort((a, b) => (a.display.toLowerCase() < b.display.toLowerCase() ? -1 : 1));
  const title = `Directory listing for ${escapeHtml(decodeURIComponentSafe(urlPath))}`;
  const body = [
    '<!DOCTYPE HTML>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${title}</title>`,
    '</head>',
    '<body>',
    `<h1>${title}</h1>`,
    '<hr>',
    '<ul>',
    ...names.map(({ display, link }) => `<li><a href="${escapeHtml(link)}">${escapeHtml(display)}</a></li>`),
    '</ul>',
    '<hr>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
  send(res, 200, 'text/html; charset=utf-8', body);
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

async function serveFile(req: IncomingMessage, res: ServerResponse, root: string): Promise<void> {
  const urlPath = (req.url ?? '/').split('?')[0]?.split('#')[0] ?? '/';
  let path = translatePath(root, req.url ?? '/');
  let info: Stats | undefined = statSync(path, { throwIfNoEntry: false });
  if (info?.isDirectory()) {
    if (!urlPath.endsWith('/')) {
      const location = `${urlPath}/${(req.url ?? '').slice(urlPath.length)}`;
      res.writeHead(301, { Location: location, 'Content-Length': 0 });
      res.end();
      return;
    }
    const index = ['index.html', 'index.htm']
      .map((name) => join(path, name))
      .find((file) => existsSync(file));
    if (index === undefined) {
      await listing(res, path, urlPath);
      return;
    }
    path = index;
    info = statSync(path, { throwIfNoEntry: false });
  }
  if (!info?.isFile() || path.endsWith('/')) {
    send(res, 404, 'text/html;charset=utf-8', 'File not found');
    return;
  }
  const since = req.headers['if-modified-since'];
  if (since && !req.headers['if-none-match'] && Math.floor(info.mtimeMs / 1000) <= Date.parse(since) / 1000) {
    res.writeHead(304);
    res.end();
    return;
  }
  res.writeHead(200, {
    'Content-Type': TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Last-Modified': info.mtime.toUTCString(),
  });
  if (req.method === 'HEAD') res.end();
  else
    createReadStream(path)
      .on('error', () => res.destroy())
      .pipe(res);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function writeFromForm(
  req: IncomingMessage,
  res: ServerResponse,
  options: SimpleHttpServerOptions,
  log: (line: string) => void,
): Promise<void> {
  const type = req.headers['content-type'] ?? '';
  let form: FormData;
  try {
    form = await new Request('http://localhost/', {
      method: 'POST',
      headers: { 'content-type': type },
      body: await readBody(req),
    }).formData();
  } catch {
    send(res, 400, 'text/plain', 'Bad form');
    return;
  }
  const content = form.get('content');
  const filename = form.get('path');
  if (content === null || typeof filename !== 'string') {
    send(res, 400, 'text/plain', 'Bad form: "path" and "content" are required');
    return;
  }
  const path = resolve(options.cwd, filename);
  const inside = relative(resolve(options.cwd), path);
  if (inside.startsWith('..') || inside.startsWith(sep)) {
    send(res, 403, 'text/plain', 'Forbidden');
    return;
  }
  const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(await content.arrayBuffer());
  log(`Writing received content to file ${path}`);
  try {
    await mkdir(dirname(path), { recursive: true });
    if (form.get('clear') === '1') await writeFile(path, bytes);
    else await appendFile(path, bytes);
    log('Done.');
  } catch (error) {
    log(`Something happened while processing 'writeFile'. The message is ${(error as Error).message}`);
  }
  send(res, 200, type || 'text/html', `Content written to ${filename}`);
}

/** Python logging's default asctime: `2024-01-02 03:04:05,678` in local time. */
export function asctime(date: Date): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())},${pad(date.getMilliseconds(), 3)}`
  );
}

export function requestHandler(
  options: SimpleHttpServerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const logLine = (level: string, message: string): void => {
    // One line per entry: what the client sent cannot start a line of its own.
    const text = message.replace(/[\r\n\u2028\u2029\x85\v\f\x1c-\x1e]/g, (c) =>
      JSON.stringify(c).slice(1, -1),
    );
    void appendFile(options.logFile, `${asctime(new Date())} ${level} - ${text}\n`).catch(() => undefined);
  };
  return (req, res) => {
    const client = req.socket.remoteAddress ?? '<unnamedsocket>';
    res.on('finish', () => {
      logLine('INFO', `${client} - - "${req.method} ${req.url} HTTP/${req.httpVersion}" ${res.statusCode} -`);
    });
    const handle = async (): Promise<void> => {
      if (req.method === 'GET' || req.method === 'HEAD') return serveFile(req, res, options.cwd);
      if (!options.allowWrite) return send(res, 403, 'text/html', 'Forbidden');
      if (req.method === 'POST')
        return writeFromForm(req, res, options, (line) => logLine('INFO', `${client} - - ${line}`));
      return send(res, 501, 'text/html', 'Unsupported method');
    };
    handle().catch((error: unknown) => {
      logLine('ERROR', `${client} - - ${(error as Error).message}`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'Internal error');
      else res.destroy();
    });
  };
}
