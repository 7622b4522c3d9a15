/** The restore line of `slapos service backups`: one line, whatever the master and node sent. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RestoreStatus } from '../client/types.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { restoreLine } from './service-backup-text.ts';
import { oneLine } from './text-block.ts';

/** What a terminal would take as a line break or a control sequence (the tab aside). */
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;

test('a restore line stays one printable line and ends with the whole message, for hostile strings', () => {
  const random = seededRandom(12);
  for (let i = 0; i < 500; i++) {
    const finished = random() < 0.5;
    const status: RestoreStatus = {
      request_id: hostileString(random),
      state: finished ? 'failed' : 'pending',
      backup_id: random() < 0.5 ? null : hostileString(random),
      restored_backup_id: random() < 0.5 ? null : hostileString(random),
      source: hostileString(random),
      message: finished ? hostileString(random) : '',
      requested_at: 1_765_138_215.125,
      finished_at: finished ? 1_765_138_219.125 : null,
    };
    const line = restoreLine(status);
    assert.doesNotMatch(line, UNPRINTABLE, JSON.stringify(status));
    assert.ok(line.startsWith(`last restore: ${status.state} ${oneLine(status.request_id)}: `));
    assert.ok(line.includes(` from ${oneLine(status.source)}, requested 2025-12-07T20:10:15.125Z`));
    const backup = status.restored_backup_id ?? status.backup_id;
    assert.ok(
      line.includes(backup === null ? ': the latest backup from ' : `: backup ${oneLine(backup)} from `),
    );
    const end = finished ? ', finished 2025-12-07T20:10:19.125Z' : 'requested 2025-12-07T20:10:15.125Z';
    const message = status.message === '' ? '' : `: ${oneLine(status.message)}`;
    assert.ok(line.endsWith(`${end}${message}`), JSON.stringify(status));
  }
});
