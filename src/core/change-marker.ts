/**
 * The change marker of a partition in the master's node snapshot (our extension, docs/master.md):
 * what a node compares with the partition's `.timestamp` file to decide whether to reprocess it.
 * It is the partition timestamp as the legacy API sends it (Python's `str(float)`), followed by
 * `+<serial>` once the partition's dependency serial was bumped (a child it requested published new
 * connection parameters): the timestamp itself stays slapproxy's.
 */
import { pyFloatRepr } from './python-value.ts';

/** Python's `str(timestamp)`, as the legacy API's `timestamp` parameter; '' when there is none. */
export function timestampString(timestamp: number | null): string {
  return timestamp === null ? '' : pyFloatRepr(timestamp);
}

/**
 * The legacy API's `timestamp` of a partition: the later of its timestamp and the time its
 * dependency serial was last bumped. A node of the original SlapOS sees no serial, and compares
 * only this (as a float), so a parent whose child published new connection parameters is
 * reprocessed at once there too. '' when neither exists.
 */
export function legacyTimestampString(timestamp: number | null, dependencyChangedAt: number | null): string {
  if (dependencyChangedAt === null || (timestamp !== null && timestamp >= dependencyChangedAt))
    return timestampString(timestamp);
  return timestampString(dependencyChangedAt);
}

export function changeMarker(timestamp: number | null, dependencySerial: number): string {
  const base = timestampString(timestamp);
  return dependencySerial > 0 ? `${base}+${dependencySerial}` : base;
}
