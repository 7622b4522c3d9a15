import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../lib/exec.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { profileRunner, tempDir } from '../../testing/buildout.ts';

const GIT_ENV = {
  PATH: process.env.PATH,
  HOME: '/nonexistent',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.invalid',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const run = await execFile('git', args, { cwd, env: GIT_ENV });
  assert.equal(run.exitCode, 0, `git ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
}

/** A bare repository with two commits on `main` and one on `feature`; returns their hashes. */
async function makeRepository(
  root: string,
): Promise<{ bare: string; first: string; second: string; feature: string }> {
  const work = join(root, 'work');
  const bare = join(root, 'repo.git');
  await execFile('mkdir', ['-p', work]);
  await git(work, 'init', '-q', '-b', 'main');
  await writeFile(join(work, 'a.txt'), 'one\n');
  await execFile('mkdir', ['-p', join(work, 'plugins'), join(work, 'other')]);
  await writeFile(join(work, 'plugins/p.txt'), 'plugin\n');
  await writeFile(join(work, 'other/o.txt'), 'other\n');
  await git(work, 'add', '.');
  await git(work, 'commit', '-q', '-m', 'first');
  const first = await git(work, 'rev-parse', 'HEAD');
  await writeFile(join(work, 'a.txt'), 'two\n');
  await git(work, 'commit', '-q', '-am', 'second');
  const second = await git(work, 'rev-parse', 'HEAD');
  await git(work, 'checkout', '-q', '-b', 'feature');
  await writeFile(join(work, 'a.txt'), 'feature\n');
  await git(work, 'commit', '-q', '-am', 'feature');
  const feature = await git(work, 'rev-parse', 'HEAD');
  await git(work, 'checkout', '-q', 'main');
  await git(root, 'clone', '-q', '--bare', work, bare);
  return { bare, first, second, feature };
}

const profile = (options: string): string => `[buildout]
parts = clone
[clone]
recipe = slapos.recipe.build:gitclone
${options}
`;

test('gitclone clones a branch, a revision, updates to the upstream and refuses a missing repository', async () => {
  const dir = await tempDir();
  try {
    const repo = await makeRepository(dir.path);
    const { run, events } = profileRunner(dir.path, { env: GIT_ENV });
    const location = join(dir.path, 'parts/clone');

    // Default: parts/<name>, the default branch, its last commit.
    await run(profile(`repository = ${repo.bare}`));
    assert.equal(await readFile(join(location, 'a.txt'), 'utf8'), 'two\n');
    assert.equal(await git(location, 'rev-parse', 'HEAD'), repo.second);

    // Update fetches and resets to @{upstream}: a new upstream commit arrives.
    const work = join(dir.path, 'work');
    await writeFile(join(work, 'a.txt'), 'three\n');
    await git(work, 'commit', '-q', '-am', 'third');
    await git(work, 'push', '-q', repo.bare, 'main');
    const again = await run(profile(`repository = ${repo.bare}`));
    assert.deepEqual(again.updated, ['clone']);
    assert.equal(await readFile(join(location, 'a.txt'), 'utf8'), 'three\n');

    // branch
    await run(profile(`repository = ${repo.bare}\nbranch = feature`));
    assert.equal(await git(location, 'rev-parse', '--abbrev-ref', 'HEAD'), 'feature');
    assert.equal(await readFile(join(location, 'a.txt'), 'utf8'), 'feature\n');

    // revision has priority over branch (with a warning); an update with it there spawns no reset.
    await run(profile(`repository = ${repo.bare}\nbranch = feature\nrevision = ${repo.first}`));
    assert.equal(await git(location, 'rev-parse', 'HEAD'), repo.first);
    assert.ok(
      events.some(
        (e) => e.type === 'warning' && /"branch" parameter with value "feature" is ignored/.test(e.message),
      ),
    );
    const before = events.length;
    await run(profile(`repository = ${repo.bare}\nbranch = feature\nrevision = ${repo.first}`));
    assert.ok(!events.slice(before).some((e) => JSON.stringify(e).includes('git reset')));
    assert.equal(await git(location, 'rev-parse', 'HEAD'), repo.first);

    // An empty revision is absent: the branch is used.
    await run(profile(`repository = ${repo.bare}\nbranch = feature\nrevision =`));
    assert.equal(await git(location, 'rev-parse', 'HEAD'), repo.feature);

    // A removed part's clone with local work is kept (develop not false: the original's rule)...
    await writeFile(join(location, 'local.txt'), 'work in progress\n');
    await run('[buildout]\nparts =\n');
    assert.equal(await readFile(join(location, 'local.txt'), 'utf8'), 'work in progress\n');
    // ...and replaced by a fresh clone at the next install (not develop).
    await run(profile(`repository = ${repo.bare}`));
    assert.equal(existsSync(join(location, 'local.txt')), false);
    // Without local change, a removed part's clone is deleted.
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(location), false);

    await rejectsWithSlapError(
      run(profile('branch = main')),
      'SLAP_ERR_PROFILE',
      /repository parameter is mandatory/,
    );
    await rejectsWithSlapError(
      run(profile(`repository = --upload-pack=touch /tmp/x`)),
      'SLAP_ERR_PROFILE',
      /must not start with "-"/,
    );
    await rejectsWithSlapError(
      run(profile(`repository = ${join(dir.path, 'nowhere.git')}`)),
      'SLAP_ERR_RECIPE_FAILED',
      /git clone exited with 128/,
    );
    assert.equal(existsSync(location), false);
  } finally {
    await dir.remove();
  }
});

test('gitclone: depth with a revision, sparse-checkout, location, develop keeps local changes', async () => {
  const dir = await tempDir();
  try {
    const repo = await makeRepository(dir.path);
    const { run } = profileRunner(dir.path, { env: GIT_ENV });
    const url = `file://${repo.bare}`; // --depth is ignored for plain local paths

    // depth 1 lacks the first commit: it is fetched.
    await run(
      profile(
        `repository = ${url}\ndepth = 1\nrevision = ${repo.first}\nlocation = \${buildout:directory}/src`,
      ),
    );
    const src = join(dir.path, 'src');
    assert.equal(await git(src, 'rev-parse', 'HEAD'), repo.first);
    assert.equal(await git(src, 'rev-parse', '--is-shallow-repository'), 'true');

    // sparse-checkout: only plugins/ in the working tree, with and without a revision.
    for (const revision of ['', `revision = ${repo.second}`]) {
      await run(profile(`repository = ${url}\nsparse-checkout = plugins/\n${revision}`));
      const location = join(dir.path, 'parts/clone');
      assert.equal(existsSync(join(location, 'plugins/p.txt')), true);
      assert.equal(existsSync(join(location, 'other/o.txt')), false);
      assert.equal(existsSync(join(location, 'a.txt')), false);
    }

    // develop: local changes survive update and uninstall.
    await run(profile(`repository = ${url}\ndevelop = true`));
    const location = join(dir.path, 'parts/clone');
    await writeFile(join(location, 'a.txt'), 'mine\n');
    await run(profile(`repository = ${url}\ndevelop = true`));
    assert.equal(await readFile(join(location, 'a.txt'), 'utf8'), 'mine\n');
    await run('[buildout]\nparts =\n');
    assert.equal(await readFile(join(location, 'a.txt'), 'utf8'), 'mine\n');
  } finally {
    await dir.remove();
  }
});

test('gitclone: bad depth is refused at init', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await rejectsWithSlapError(
      run(profile('repository = /x\ndepth = 1; rm -rf /')),
      'SLAP_ERR_PROFILE',
      /not a positive number/,
    );
  } finally {
    await dir.remove();
  }
});
