/**
 * A real master in master mode for tests: a temporary master directory (CA, server certificate,
 * database) and HTTPS on 127.0.0.1 with an ephemeral port; `close()` stops it and removes the
 * directory. `postTls` calls it with any TLS material, token and source address.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { openMasterAdmin, type MasterAdmin } from '../master/master-admin.ts';
import {
  startMasterMode,
  type RunningMasterMode,
  type StartMasterModeOptions,
} from '../master/master-mode.ts';
import type { JsonResponse } from './master.ts';

export interface TestMasterMode {
  url: string;
  port: number;
  /** The master directory (CA, keys, database). */
  dir: string;
  master: RunningMasterMode;
  /** PEM of the master's CA. */
  caPem: string;
  /** The directory's administration (`slapos master user|node …`), on its own database connection. */
  admin: MasterAdmin;
  close(): Promise<void>;
}

export async function startTestMasterMode(
  options: {
    clock?: Clock;
    logger?: Logger;
    headersTimeoutMs?: number;
    metricsToken?: string;
    regularisation?: StartMasterModeOptions['regularisation'];
  } = {},
): Promise<TestMasterMode> {
  const parent = await mkdtemp(join(tmpdir(), 'slapos-test-master-mode-'));
  const dir = join(parent, 'master');
  let master: RunningMasterMode;
  try {
    master = await startMasterMode({
      dir,
      host: '127.0.0.1',
      port: 0,
      closeGraceMs: 2_000,
      clock: options.clock,
      logger: options.logger,
      ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
      metricsToken: options.metricsToken,
      regularisation: options.regularisation,
    });
  } catch (error) {
    await rm(parent, { recursive: true, force: true });
    throw error;
  }
  const admin = await openMasterAdmin({ dir, clock: options.clock, logger: options.logger });
  return {
    url: master.url,
    port: master.port,
    dir,
    master,
    caPem: master.certificateAuthority.caCertificatePem,
    admin,
    async close() {
      await admin.close();
      await master.close();
      await rm(parent, { recursive: true, force: true });
    },
  };
}

export interface TlsCallOptions {
  /** The CA to trust for the master. */
  ca: string;
  /** Client certificate and key (mutual TLS). */
  cert?: string | undefined;
  key?: string | undefined;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  headers?: Record<string, string>;
  /** Source address (e.g. 127.0.0.2: another client). */
  localAddress?: string;
  /** POST (default, with the JSON body) or GET (no body). */
  method?: 'GET' | 'POST';
}

/** POSTs a JSON body (or GETs) to a master over HTTPS on a fresh connection (30 s timeout). */
export function postTls(
  url: string,
  path: string,
  body: unknown,
  options: TlsCallOptions,
): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const call = request(
      `${url}${path}`,
      {
        method: options.method ?? 'POST',
        agent: false,
        ca: options.ca,
        ...(options.cert === undefined ? {} : { cert: options.cert }),
        ...(options.key === undefined ? {} : { key: options.key }),
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...options.headers,
        },
        timeout: 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const answer = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = answer === '' ? undefined : JSON.parse(answer);
          } catch {
            parsed = undefined;
          }
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: parsed,
            text: answer,
          });
        });
      },
    );
    call.on('timeout', () => call.destroy(new Error('timed out')));
    call.on('error', reject);
    call.end(options.method === 'GET' ? undefined : text);
  });
}
