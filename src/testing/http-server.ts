/**
 * A plain HTTP server on 127.0.0.1 (ephemeral port) answering with a given handler: for tests of how a
 * client copes with peers that misbehave (garbage, errors, silence), which a real master never does,
 * or of another site on another loopback address (`host`, e.g. 127.0.0.2).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface TestHttpServer {
  url: string;
  /** Requests received so far (method, url, body). */
  requests: { method: string; url: string; body: string }[];
  close(): Promise<void>;
}

export async function startHttpServer(
  handler: (request: IncomingMessage & { body: string; rawBody: Buffer }, response: ServerResponse) => void,
  options: { host?: string } = {},
): Promise<TestHttpServer> {
  const host = options.host ?? '127.0.0.1';
  if (!/^127(\.\d{1,3}){3}$/.test(host))
    throw new Error(`a test server listens on loopback only, not ${host}`);
  const requests: TestHttpServer['requests'] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const body = rawBody.toString('utf8');
      requests.push({ method: request.method ?? '', url: request.url ?? '', body });
      handler(Object.assign(request, { body, rawBody }), response);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    requests,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}

/** Sends a JSON body with the given status. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
