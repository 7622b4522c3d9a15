#!/usr/bin/env node
// The hello web server of examples/hello: answers "Hello <name>!" on GET /.
// Usage: hello.mjs [--log FILE] IP PORT NAME...   (the name may be several words)
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';

const args = process.argv.slice(2);
let log;
if (args[0] === '--log') {
  log = args[1];
  args.splice(0, 2);
}
const [host, portText, ...nameWords] = args;
const port = Number(portText);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535 || nameWords.length === 0) {
  process.stderr.write('usage: hello.mjs [--log FILE] IP PORT NAME...\n');
  process.exit(2);
}
const greeting = `Hello ${nameWords.join(' ')}!\n`;

function record(line) {
  if (log) appendFileSync(log, `${new Date().toISOString()} ${line}\n`);
}

const server = createServer((request, response) => {
  record(`${request.method} ${request.url}`);
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(greeting);
});

server.listen(port, host, () => record(`listening on ${host}:${port}`));
server.on('error', (error) => {
  process.stderr.write(`hello: ${error.message}\n`);
  process.exit(1);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    record(`${signal}: stopping`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
