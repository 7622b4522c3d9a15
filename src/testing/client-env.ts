/** An environment for client CLI tests: no SLAPOS_* variables and a HOME without a client configuration. */
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export function isolatedClientEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SLAPOS_')) env[key] = value;
  return { ...env, HOME: join(tmpdir(), 'slapos-test-no-home'), ...extra };
}
