import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';

test('free_port picks the first port it can bind on ip, then keeps the recorded one', async () => {
  const dir = await tempDir();
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const taken = (busy.address() as AddressInfo).port;
  try {
    const { run } = profileRunner(dir.path);
    const profile = (ip: string, min = taken, max = taken + 50): string =>
      `[buildout]\nparts = show\n[port]\nrecipe = slapos.cookbook:free_port\nip = ${ip}\nminimum = ${min}\nmaximum = ${max}\n[show]\nrecipe = slapos.recipe.template\ninline = \${port:port}\noutput = shown\n`;
    const shown = async (): Promise<number> => Number(await readFile(join(dir.path, 'shown'), 'utf8'));
    await run(profile('127.0.0.1'));
    const port = await shown();
    assert.ok(port > taken && port < taken + 50, `${port} is after the busy ${taken}`);

    // Installed: the port is kept even though the range now starts higher (the service holds it).
    await run(profile('127.0.0.1', port + 1, port + 20));
    assert.equal(await shown(), port);

    // minimum == maximum: that port; an ip that is not an address: 0.
    await run('[buildout]\nparts =\n');
    await run(profile('127.0.0.1', 7777, 7777));
    assert.equal(await shown(), 7777);
    await run('[buildout]\nparts =\n');
    await run(profile('not-an-ip'));
    assert.equal(await shown(), 0);

    await rejectsWithSlapError(
      run('[buildout]\nparts = p\n[p]\nrecipe = slapos.cookbook:free_port\nminimum = low\n'),
      'SLAP_ERR_PROFILE',
      /p:minimum: not a port number/,
    );
  } finally {
    busy.close();
    await dir.remove();
  }
});
