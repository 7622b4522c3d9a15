import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../testing/supervisor.ts';
import { openLogForChild, readLogTail, rotateLogIfNeeded } from './log-file.ts';

test('copy-truncate rotation keeps N backups and the writer appends at the new end', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const path = join(dir.path, 'logs', 'p.log');
  const fd = openLogForChild(path, { uid: null, gid: null });
  t.after(() => closeSync(fd));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  writeSync(fd, 'a'.repeat(2000));
  assert.equal(await rotateLogIfNeeded(path, { maxBytes: 5000, backups: 2 }), false);
  writeSync(fd, 'b'.repeat(4000));
  assert.equal(await rotateLogIfNeeded(path, { maxBytes: 5000, backups: 2 }), true);
  assert.equal(statSync(path).size, 0);
  assert.equal(statSync(`${path}.1`).size, 6000);
  writeSync(fd, 'c'.repeat(6000));
  assert.equal(statSync(path).size, 6000, 'append mode: no hole after the truncation');
  assert.equal(await rotateLogIfNeeded(path, { maxBytes: 5000, backups: 2 }), true);
  assert.equal(readFileSync(`${path}.1`, 'utf8'), 'c'.repeat(6000));
  assert.equal(statSync(`${path}.2`).size, 6000);
  writeSync(fd, 'd'.repeat(6000));
  await rotateLogIfNeeded(path, { maxBytes: 5000, backups: 0 });
  assert.equal(statSync(path).size, 0);
  assert.equal(readFileSync(`${path}.1`, 'utf8'), 'c'.repeat(6000), 'no backup kept with backups=0');
});

test('tail: the last bytes, then what was added after an offset', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const path = join(dir.path, 'p.log');
  assert.deepEqual(await readLogTail(path, { bytes: 10 }), { data: '', offset: 0, size: 0, overflow: false });
  appendFileSync(path, 'hello world\n');
  const end = await readLogTail(path, { bytes: 6 });
  assert.deepEqual(end, { data: 'world\n', offset: 12, size: 12, overflow: false });
  appendFileSync(path, 'more\n');
  assert.deepEqual(await readLogTail(path, { bytes: 100, offset: end.offset }), {
    data: 'more\n',
    offset: 17,
    size: 17,
    overflow: false,
  });
  assert.equal((await readLogTail(path, { bytes: 2, offset: 12 })).overflow, true, 'more than asked');
  assert.equal((await readLogTail(path, { bytes: 100, offset: 500 })).overflow, true, 'rotated since');
});
