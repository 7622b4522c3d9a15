import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildoutEvent } from '../buildout/progress.ts';
import { silentLogger } from '../lib/logger.ts';
import { tempDir } from '../testing/buildout.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';
import { runNodeBuildout, type NodeBuildoutRequest } from './node-buildout.ts';

const PROFILE =
  '[buildout]\nparts = hello\n[hello]\nrecipe = slapos.recipe.template\noutput = hello.txt\ninline = hi\n';

/** Both ways the node runs a buildout give the same progress, result and errors. */
for (const mode of ['in-process', 'separate process'] as const) {
  test(`node buildout (${mode}): progress forwarded, errors keep their code, uninstall-all`, async () => {
    const dir = await tempDir('node-buildout-');
    try {
      const runAs =
        mode === 'separate process'
          ? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, instanceRoot: dir.path }
          : undefined;
      const events: BuildoutEvent[] = [];
      const request = (extra: Partial<NodeBuildoutRequest> = {}): NodeBuildoutRequest => ({
        directory: dir.path,
        configFile: join(dir.path, 'buildout.cfg'),
        ...(runAs ? { runAs } : {}),
        env: { HOME: dir.path },
        onProgress: (event) => events.push(event),
        logger: silentLogger(),
        ...extra,
      });
      await writeFile(join(dir.path, 'buildout.cfg'), PROFILE);
      await runNodeBuildout(request());
      assert.ok(existsSync(join(dir.path, 'hello.txt')));
      assert.deepEqual(
        events.filter((e) => e.type === 'part').map((e) => e.type === 'part' && `${e.action} ${e.part}`),
        ['installing hello', 'installed hello'],
      );

      await writeFile(
        join(dir.path, 'buildout.cfg'),
        '[buildout]\nparts = x\n[x]\nrecipe = no.such:recipe\n',
      );
      const error = await rejectsWithSlapError(runNodeBuildout(request()), 'SLAP_ERR_RECIPE_UNSUPPORTED');
      assert.match(error.message, /no\.such:recipe/);

      events.length = 0;
      await runNodeBuildout(request({ uninstallAll: true }));
      assert.equal(existsSync(join(dir.path, 'hello.txt')), false);
      assert.ok(events.some((e) => e.type === 'part' && e.action === 'uninstalled' && e.part === 'hello'));

      await writeFile(
        join(dir.path, 'buildout.cfg'),
        '[buildout]\nparts = slow\n[slow]\nrecipe = plone.recipe.command\ncommand = sleep 30\nstop-on-error = true\n',
      );
      await rejectsWithSlapError(runNodeBuildout(request({ timeoutMs: 300 })), 'SLAP_ERR_TIMEOUT');
    } finally {
      await dir.remove();
    }
  });
}
