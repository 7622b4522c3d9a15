/**
 * When a partition's next backup is due (pure): on its declared period after the start of the last
 * attempt, at once when the master asks for one it has not taken yet (`backup_requested_at` newer
 * than the last request handled), and never before a failed attempt's retry time.
 */
export interface BackupScheduleState {
  /** Float seconds: when the last attempt (successful or not) started; null: never. */
  lastAttemptAt: number | null;
  /** The `backup_requested_at` last handled. */
  handledRequestAt: number | null;
  /** After a failure: not before this (float seconds). */
  retryAt: number | null;
}

export type BackupDue = { due: false } | { due: true; reason: 'first' | 'period' | 'requested' | 'retry' };

export function backupDue(
  state: BackupScheduleState,
  input: { periodSeconds: number; requestedAt: number | null; now: number },
): BackupDue {
  const requested =
    input.requestedAt !== null &&
    (state.handledRequestAt === null || input.requestedAt > state.handledRequestAt);
  if (state.retryAt !== null && input.now < state.retryAt) return { due: false };
  if (requested) return { due: true, reason: 'requested' };
  if (state.retryAt !== null) return { due: true, reason: 'retry' };
  if (state.lastAttemptAt === null) return { due: true, reason: 'first' };
  if (input.now >= state.lastAttemptAt + input.periodSeconds) return { due: true, reason: 'period' };
  return { due: false };
}
