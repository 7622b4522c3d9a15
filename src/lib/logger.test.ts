import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../testing/buildout.ts';
import { deferredLogger } from './logger.ts';

function records(file: string): { level: number; msg: string; part?: string }[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { level: number; msg: string; part?: string });
}

test('a deferred logger makes its pino logger on the first record at its level, not before', async () => {
  const dir = await tempDir('logger-');
  try {
    const file = join(dir.path, 'log', 'cli.log');
    const logger = deferredLogger({ level: 'warn', destination: file });
    logger.trace('t');
    logger.debug({ path: '/x' }, 'master call');
    logger.info('i');
    assert.equal(
      existsSync(file),
      false,
      'records under the level make no logger (the file is not even opened)',
    );
    logger.warn({ code: 'X' }, 'careful');
    logger.debug('still dropped');
    logger.error('bad');
    logger.child({ part: 'p' }).warn('from a child');
    assert.deepEqual(
      records(file).map((r) => [r.level, r.msg, r.part]),
      [
        [40, 'careful', undefined],
        [50, 'bad', undefined],
        [40, 'from a child', 'p'],
      ],
    );
    assert.equal(logger.level, 'warn');
    assert.equal(logger.isLevelEnabled('info'), false);
  } finally {
    await dir.remove();
  }
});

test('any other use makes the logger at once', async () => {
  const dir = await tempDir('logger-');
  try {
    const file = join(dir.path, 'cli.log');
    const logger = deferredLogger({ level: 'info', destination: file });
    assert.equal(logger.isLevelEnabled('debug'), false);
    assert.ok(existsSync(file));
    logger.info({ n: 1 }, 'hello');
    assert.deepEqual(
      records(file).map((r) => [r.level, r.msg]),
      [[30, 'hello']],
    );
  } finally {
    await dir.remove();
  }
});
