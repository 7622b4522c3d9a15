/**
 * Issue 14 (items 1 and 2) end to end: examples/hello deployed by the node's own passes with
 * hostile instance parameters (a carriage-return injection of installed-record sections, U+2028,
 * U+0085, a hostile key), each followed by a benign request: the instance ends started serving the
 * benign value, no file outside the partition is deleted, and no recipe named by an injected record
 * section is imported. A record left unreadable by an older version does not fail the partition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runInstancePass } from '../src/node/instance/instance-pass.ts';
import { installHelloRelease, waitForExactAnswer } from '../src/testing/hello-release.ts';
import { startNodeHarness } from '../src/testing/node-passes.ts';

/** The parameter: record sections injected after a lone carriage return. */
function injection(recipe: string, victim: string): string {
  return `x\r[buildout]\rparts = evil\r[evil]\rrecipe = ${recipe}\r__buildout_installed__ = ${victim}\r[zzz-tail]\rk = v`;
}

test('hostile instance parameters, then a benign one: started, serving it, nothing outside touched', async () => {
  const h = await startNodeHarness({ partitions: 1 });
  try {
    const url = await installHelloRelease(h);

    const outside = join(h.dir, 'outside');
    await mkdir(outside);
    const victim = join(outside, 'victim');
    await writeFile(victim, 'precious');
    const marker = join(outside, 'imported');
    const evilRecipe = join(outside, 'evil-recipe.mjs');
    await writeFile(
      evilRecipe,
      `(await import('node:fs')).writeFileSync(${JSON.stringify(marker)}, 'x');\nexport function install() {}\n`,
    );

    const hostile: Record<string, string>[] = [
      { name: injection('none', victim) },
      { name: injection(evilRecipe, victim) },
      { name: 'a\u2028b' },
      { name: 'a\x85b' },
      { name: 'x', 'k=\r[evil]\u2028 ]': 'v\u2029', ' #;k+': '$${x} ${y}' },
    ];
    for (const parameters of hostile) {
      const label = JSON.stringify(parameters);
      await h.client.requestInstance({ title: 'hello', softwareReleaseUri: url, parameters });
      const deployed = await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor });
      assert.deepEqual(
        deployed.items.map((i) => [i.outcome, i.error?.message]),
        [['started', undefined]],
        label,
      );

      await h.client.requestInstance({
        title: 'hello',
        softwareReleaseUri: url,
        parameters: { name: 'benign' },
      });
      const benign = await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor });
      assert.deepEqual(
        benign.items.map((i) => [i.outcome, i.error?.message]),
        [['started', undefined]],
        label,
      );
      assert.equal(h.db.instance('hello')?.reported_state, 'started', label);
      const instance = await h.client.requestInstance({
        title: 'hello',
        softwareReleaseUri: url,
        parameters: { name: 'benign' },
      });
      const published = (await h.client.getInstance(instance.instance_guid)).connection_parameters;
      assert.equal(published.name, 'Hello benign!', label);
      assert.equal(
        await waitForExactAnswer(`${published.url as string}/`, 'Hello benign!\n'),
        'Hello benign!\n',
      );
      assert.equal(await readFile(victim, 'utf8'), 'precious', label);
      assert.equal(existsSync(marker), false, `${label}: the injected recipe was imported`);
    }

    // A record an older version left unreadable (a lone \r written as it is): the parts are
    // installed again over it, nothing it lists is deleted.
    const instance = await h.client.requestInstance({
      title: 'hello',
      softwareReleaseUri: url,
      parameters: { name: 'again' },
    });
    const record = join(h.config.instanceRoot, instance.compute_partition_id, '.installed.cfg');
    await writeFile(
      record,
      `${await readFile(record, 'utf8')}\n[old]\n__buildout_installed__ = ${victim}\nname = x\rnot an option\n`,
    );
    const recovered = await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor });
    assert.deepEqual(
      recovered.items.map((i) => [i.outcome, i.error?.message]),
      [['started', undefined]],
    );
    const published = (await h.client.getInstance(instance.instance_guid)).connection_parameters;
    assert.equal(await waitForExactAnswer(`${published.url as string}/`, 'Hello again!\n'), 'Hello again!\n');
    assert.equal(await readFile(victim, 'utf8'), 'precious');
    assert.doesNotMatch(await readFile(record, 'utf8'), /not an option|\[old\]/);
  } finally {
    await h.close();
  }
});
