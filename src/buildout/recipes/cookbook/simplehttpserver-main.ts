/**
 * Entry point of the server a `slapos.cookbook:simplehttpserver` wrapper runs: `node
 * simplehttpserver-main.js --cwd DIR --log-file FILE (--host H --port P | --socket PATH |
 * --abstract NAME) [--cert-file F [--key-file F]] [--allow-write]`. With `--cert-file` it speaks
 * HTTPS (`--key-file`, else the key is in the certificate file). Requests: simplehttpserver-server.ts.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { asctime, requestHandler, type SimpleHttpServerOptions } from './simplehttpserver-server.ts';

/** Removes a stale Unix socket file (nothing accepts on it), as the original does before binding. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((done) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
  if (!alive) {
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cwd: { type: 'string' },
      'log-file': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      socket: { type: 'string' },
      abstract: { type: 'string' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
      'allow-write': { type: 'boolean', default: false },
    },
  });
  if (!values.cwd || !values['log-file']) throw new Error('--cwd and --log-file are required');
  const options: SimpleHttpServerOptions = {
    cwd: resolve(values.cwd),
    logFile: values['log-file'],
    allowWrite: values['allow-write'],
  };
  process.chdir(options.cwd);
  const handler = requestHandler(options);
  const certFile = values['cert-file'];
  const server = certFile
    ? createHttpsServer(
        {
          cert: readFileSync(certFile),
          key: readFileSync(values['key-file'] || certFile),
        },
        handler,
      )
    : createHttpServer(handler);
  let address: string;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    if (values.host !== undefined) {
      address = `('${values.host}', ${values.port})`;
      server.listen(Number(values.port), values.host, resolveListen);
    } else if (values.socket !== undefined) {
      address = values.socket;
      removeStaleSocket(values.socket).then(() => server.listen(values.socket, resolveListen), reject);
    } else if (values.abstract !== undefined) {
      address = `\\x00${values.abstract}`;
      server.listen(`\0${values.abstract}`, resolveListen);
    } else {
      reject(new Error('one of --host/--port, --socket or --abstract is required'));
    }
  });
  await appendFile(
    options.logFile,
    `${asctime(new Date())} INFO - Starting simple http server at ${address!}\n`,
  );
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`simplehttpserver: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
