import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../testing/hostile-strings.ts';
import { backupIdTime, isBackupId, newBackupId } from './backup-id.ts';

test('a backup id names its start to the millisecond and sorts by time', () => {
  assert.equal(
    newBackupId(Date.UTC(2026, 11, 7, 20, 30, 15, 123), () => 'a1b2'),
    '20261207T203015123Z-a1b2',
  );
  const random = seededRandom(3);
  let previous = '';
  let ms = Date.UTC(2000, 0, 1);
  for (let i = 0; i < 500; i++) {
    ms += Math.floor(random() * 1e9);
    const id = newBackupId(ms);
    assert.ok(isBackupId(id), id);
    assert.equal(backupIdTime(id), ms / 1000);
    assert.ok(id > previous, 'sorts by time');
    previous = id;
  }
});

test('anything else is no backup id', () => {
  for (const text of [
    '',
    '20261207T203015123Z-A1B2',
    '20261207T203015123Z-a1b',
    '20261331T203015123Z-a1b2',
    '20260230T203015123Z-a1b2',
    '20261207T253015123Z-a1b2',
    '20261207T203015123Z-a1b2\n',
    ' 20261207T203015123Z-a1b2',
  ])
    assert.equal(isBackupId(text), false, JSON.stringify(text));
  assert.equal(isBackupId(42), false);
});
