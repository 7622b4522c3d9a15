/**
 * examples/hello through the node's own passes, for end-to-end tests: a release extending the example
 * (pinning the Node.js of the test run, as a user would), supplied and built, and its service's answer.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSoftwarePass } from '../node/software/software-pass.ts';
import { COMPUTER_ID, type NodeHarness } from './node-passes.ts';
import { waitFor } from './supervisor.ts';

const EXAMPLE = fileURLToPath(new URL('../../../examples/hello/software.cfg', import.meta.url));

/** Writes `releases/hello-here/software.cfg`, supplies it and builds it (asserted installed); its URL. */
export async function installHelloRelease(h: NodeHarness): Promise<string> {
  const release = join(h.dir, 'releases', 'hello-here');
  await mkdir(release, { recursive: true });
  const url = join(release, 'software.cfg');
  await writeFile(url, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
  await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
  const software = await runSoftwarePass(h.config, { master: h.client });
  assert.deepEqual(
    software.items.map((i) => [i.outcome, i.error?.message]),
    [['installed', undefined]],
  );
  return url;
}

/** GETs `url` until its body is exactly `expected` (nothing trimmed). */
export function waitForExactAnswer(url: string, expected: string): Promise<string> {
  return waitFor(`${url} answering ${JSON.stringify(expected)}`, async () => {
    try {
      const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
      return text === expected ? text : undefined;
    } catch {
      return undefined;
    }
  });
}
