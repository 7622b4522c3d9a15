/**
 * The masters the master benchmark measures, each running the compiled CLI in a child process
 * (`slapos proxy start`, `slapos master start`), and the master-mode parties: a user with an API
 * token, and compute nodes registered through the real registration path (a registration token,
 * then a CSR), each with its client certificate.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { createKeyAndCertificateRequest } from '../src/lib/certificate-request.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'slapos.js');
const run = promisify(execFile);

export interface Server {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Brings dist/ up to date (incremental), since the masters run the compiled CLI (`npm run build`'s steps). */
export async function build(): Promise<void> {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: 600_000 });
  await run(process.execPath, [join(ROOT, 'dist', 'scripts', 'bundle-vendor.js')], {
    cwd: ROOT,
    timeout: 600_000,
  });
}

/**
 * Runs `slapos ARGS` (with Node options `nodeArgs`) until it prints a line matching `listening`,
 * whose first group is the URL. Its output is read to the end (a full pipe would block it) but only
 * kept until then.
 */
async function startCli(nodeArgs: string[], args: string[], listening: RegExp): Promise<Server> {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    let found = false;
    const timer = setTimeout(
      () => reject(new Error(`the master did not start within 60 s: ${text}`)),
      60_000,
    );
    const look = (chunk: Buffer): void => {
      if (found) return;
      text += chunk.toString();
      const match = listening.exec(text);
      if (match?.[1]) {
        found = true;
        text = '';
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the master exited with ${code}: ${text}`));
    });
  });
  return {
    child,
    url,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `slapos proxy start` on an ephemeral port (plain HTTP, no authentication unless --token-file). */
export function startProxyMode(
  databasePath: string,
  nodeArgs: string[],
  extraArgs: string[] = [],
): Promise<Server> {
  return startCli(
    nodeArgs,
    [
      'proxy',
      'start',
      '--port',
      '0',
      '--database',
      databasePath,
      '--computer-id',
      'bench-node',
      ...extraArgs,
    ],
    /"url":"(http:[^"]+)".*"msg":"master listening"/,
  );
}

/** POSTs a JSON body and parses the answer; anything but 200 throws. */
export async function call(
  pool: Pool,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const response = await pool.request({
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as unknown;
}

export interface MasterModeServer extends Server {
  /** PEM of the master's CA, which clients trust. */
  ca: string;
  /** The user's calls: keep-alive over TLS without a client certificate. */
  userPool: Pool;
  /** `Authorization: Bearer <the user's API token>`. */
  userHeaders: Record<string, string>;
  /** A registration token made by the user (`/slapos.post.ext.registration_token`). */
  registrationToken(): Promise<string>;
  /** Registers a compute node with a registration token and a CSR: its reference and certificate. */
  register(registrationToken: string, title: string, csrPem: string): Promise<RegisteredNode>;
  /** A registration token, a new key and CSR, then the registration: the node's TLS client settings. */
  registerNode(title: string): Promise<NodeIdentity>;
}

export interface RegisteredNode {
  computer_guid: string;
  certificate: string;
}

export interface NodeIdentity {
  computerGuid: string;
  /** TLS client options: the master's CA, the node's key and certificate. */
  tls: { ca: string; key: string; cert: string };
}

/**
 * `slapos master start` in a fresh directory, a user (`slapos master user add`) and a pool of
 * `userConnections` keep-alive connections for the user's calls.
 */
export async function startMasterMode(
  dir: string,
  nodeArgs: string[],
  userConnections: number,
): Promise<MasterModeServer> {
  const server = await startCli(
    nodeArgs,
    ['master', 'start', '--dir', dir, '--port', '0'],
    /listening on (https:\/\/\S+)/,
  );
  try {
    const { stdout } = await run(process.execPath, [
      BIN,
      'master',
      'user',
      'add',
      'bench',
      '--dir',
      dir,
      '--json',
    ]);
    const { token } = JSON.parse(stdout) as { token: string };
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const userPool = new Pool(server.url, {
      connections: userConnections,
      keepAliveTimeout: 60_000,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
      connect: { ca },
    });
    const userHeaders = { authorization: `Bearer ${token}` };
    const registrationToken = async (): Promise<string> =>
      ((await call(userPool, '/slapos.post.ext.registration_token', {}, userHeaders)) as { token: string })
        .token;
    const register = async (registration: string, title: string, csrPem: string): Promise<RegisteredNode> =>
      (await call(
        userPool,
        '/slapos.post.ext.compute_node_registration',
        { title, certificate_request: csrPem },
        { authorization: `Bearer ${registration}` },
      )) as RegisteredNode;
    return {
      ...server,
      ca,
      userPool,
      userHeaders,
      registrationToken,
      register,
      async registerNode(title) {
        const { keyPem, csrPem } = await createKeyAndCertificateRequest(title);
        const node = await register(await registrationToken(), title, csrPem);
        return { computerGuid: node.computer_guid, tls: { ca, key: keyPem, cert: node.certificate } };
      },
      async stop() {
        await userPool.close();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}
