import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../testing/hostile-strings.ts';
import { backupIdTime } from './backup-id.ts';
import { newBackupId } from './restic.ts';

test('a backup id gives back the millisecond its backup started', () => {
  assert.equal(backupIdTime('20261207T203015123Z-a1b2'), Date.UTC(2026, 11, 7, 20, 30, 15, 123) / 1000);
  const random = seededRandom(3);
  let ms = Date.UTC(2000, 0, 1);
  for (let i = 0; i < 500; i++) {
    ms += Math.floor(random() * 1e9);
    assert.equal(backupIdTime(newBackupId(new Date(ms))), ms / 1000);
  }
});

test('anything else has no time', () => {
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
    assert.equal(backupIdTime(text), undefined, JSON.stringify(text));
});
