/** The agent's control channel: validation of what arrives on the socket, the exchange, the failures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import { LINE_TERMINATORS, seededRandom } from '../../testing/hostile-strings.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import {
  parseAgentRequest,
  sendAgentRequest,
  startControlServer,
  type AgentRequest,
  type AgentRequestHandler,
} from './control.ts';

/** Line terminators, NUL and a bell: what a line-oriented reader must not split on or choke on. */
const TERMINATORS = [...LINE_TERMINATORS, '\0', '\x07'];

function randomString(random: () => number): string {
  const pool = [...TERMINATORS, 'a', 'é', '{', '}', '"', '\\', ':', ',', '[', ']', ' ', '𝄞', '1'];
  let text = '';
  const length = Math.floor(random() * 40);
  for (let i = 0; i < length; i++) text += pool[Math.floor(random() * pool.length)];
  return text;
}

async function withServer(handler: AgentRequestHandler, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ctl-'));
  const server = await startControlServer(join(dir, 'a.sock'), handler, { logger: silentLogger() });
  try {
    await fn(server.path);
  } finally {
    await server.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sends raw bytes and returns every line answered. */
function raw(path: string, text: string, options: { end?: boolean } = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = createConnection(path, () => (options.end ? socket.end(text) : socket.write(text)));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer.split('\n').filter((line) => line !== '')));
  });
}

test('requests are validated field by field; any string round-trips in "only" or is refused clearly', () => {
  assert.deepEqual(parseAgentRequest('{"request":{"command":"report","force":1}}'), { command: 'report' });
  assert.deepEqual(parseAgentRequest('{"request":{"command":"software","force":true}}'), {
    command: 'software',
    force: true,
  });
  for (const [line, reason] of [
    ['', /not JSON/],
    ['null', /no "request"/],
    ['{"request":"software"}', /no "request"/],
    ['{"request":{"command":"destroy","force":true}}', /unknown control command/],
    ['{"request":{"command":"instance"}}', /"force"/],
    ['{"request":{"command":"instance","force":false,"only":"slappart0"}}', /"only"/],
    ['{"request":{"command":"instance","force":false,"only":[""]}}', /"only"/],
    ['{"request":{"command":"instance","force":false,"only":[1]}}', /"only"/],
    ['{"request":{"command":"promise","only":[""]}}', /"only"/],
    ['{"request":{"command":"promise","timeout":0}}', /"timeout"/],
    ['{"request":{"command":"promise","timeout":1.5}}', /"timeout"/],
    ['{"request":{"command":"promise","timeout":"20"}}', /"timeout"/],
  ] as const)
    assert.throws(
      () => parseAgentRequest(line),
      (error: unknown) =>
        error instanceof SlapError && error.code === 'SLAP_ERR_USAGE' && reason.test(error.message),
      line,
    );
  assert.deepEqual(parseAgentRequest('{"request":{"command":"promise","force":true}}'), {
    command: 'promise',
  });
  assert.deepEqual(parseAgentRequest('{"request":{"command":"promise","only":["slappart0"],"timeout":7}}'), {
    command: 'promise',
    only: ['slappart0'],
    timeout: 7,
  });
  const random = seededRandom(14);
  for (let i = 0; i < 500; i++) {
    const only = [randomString(random) || 'x', randomString(random) || 'y'];
    const request: AgentRequest = { command: 'instance', force: random() < 0.5, only };
    assert.deepEqual(parseAgentRequest(JSON.stringify({ request })), request);
    const promise: AgentRequest = { command: 'promise', only };
    assert.deepEqual(parseAgentRequest(JSON.stringify({ request: promise })), promise);
    const garbage = randomString(random);
    try {
      parseAgentRequest(garbage);
    } catch (error) {
      assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_USAGE', JSON.stringify(garbage));
    }
  }
});

test('the exchange: events then the result; errors with their code; a socket of mode 0600', async () => {
  const asked: AgentRequest[] = [];
  await withServer(
    (request, onEvent) => {
      asked.push(request);
      if (request.command === 'report')
        return Promise.reject(new SlapError('SLAP_ERR_USAGE', 'no report today', { hint: 'later' }));
      if (request.command === 'software')
        // Answers later, as a real pass does.
        return new Promise((resolve) =>
          setTimeout(() => {
            onEvent({ type: 'step', message: 'later' });
            resolve({ exitCode: 0 });
          }, 50),
        );
      onEvent({ type: 'step', message: 'first' });
      onEvent({ type: 'step', message: 'second\u2028line' });
      return Promise.resolve({ exitCode: 2, items: [] });
    },
    async (path) => {
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const events: string[] = [];
      const result = await sendAgentRequest<{ exitCode: number; items: unknown[] }>(
        path,
        { command: 'instance', force: true, only: ['slappart0'] },
        { onEvent: (event) => events.push(event.type === 'step' ? event.message : event.type) },
      );
      assert.deepEqual(result, { exitCode: 2, items: [] });
      assert.deepEqual(events, ['first', 'second\u2028line']);
      assert.deepEqual(asked, [{ command: 'instance', force: true, only: ['slappart0'] }]);
      await rejectsWithSlapError(
        sendAgentRequest(path, { command: 'report' }),
        'SLAP_ERR_USAGE',
        /no report today/,
      );

      // Hostile bytes: an error line, never a crash; the server keeps serving.
      const random = seededRandom(7);
      for (let i = 0; i < 30; i++) {
        const lines = await raw(path, `${randomString(random).replaceAll('\n', '')}\n`);
        assert.equal(lines.length, 1);
        assert.equal(
          (JSON.parse(lines[0] ?? '') as { error: { code: string } }).error.code,
          'SLAP_ERR_USAGE',
        );
      }
      // A client that ends its side after the request (`nc -U`) still gets the whole answer.
      const halfOpen = await raw(
        path,
        `${JSON.stringify({ request: { command: 'software', force: false } })}\n`,
        {
          end: true,
        },
      );
      assert.deepEqual(
        halfOpen.map((line) => Object.keys(JSON.parse(line) as object)[0]),
        ['event', 'result'],
      );
      const long = await raw(path, 'x'.repeat(70 * 1024));
      assert.match(long[0] ?? '', /too long/);
      assert.equal(asked.length, 3, 'no bad request reached the agent');
    },
  );
});

test('no agent on the socket: SLAP_ERR_UNAVAILABLE (the CLI then reports the lock); a vanished agent too', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ctl-'));
  try {
    await rejectsWithSlapError(
      sendAgentRequest(join(dir, 'none.sock'), { command: 'report' }),
      'SLAP_ERR_UNAVAILABLE',
      /no node agent answers/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The agent stops while a request waits: the client is told, it does not hang.
  const dir2 = await mkdtemp(join(tmpdir(), 'ctl-'));
  let called: () => void = () => undefined;
  const handlerCalled = new Promise<void>((resolve) => (called = resolve));
  const server = await startControlServer(
    join(dir2, 'a.sock'),
    (_request, _onEvent, signal) =>
      new Promise((_resolve, reject) => {
        called();
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      }),
    { logger: silentLogger() },
  );
  try {
    const told = rejectsWithSlapError(
      sendAgentRequest(server.path, { command: 'report' }),
      'SLAP_ERR_UNAVAILABLE',
      /the node agent is stopping/,
    );
    await handlerCalled;
    await server.close();
    await told;
  } finally {
    await server.close();
    await rm(dir2, { recursive: true, force: true });
  }
});
