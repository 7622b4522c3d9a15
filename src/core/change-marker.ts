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

export function changeMarker(timestamp: number | null, dependencySerial: number): string {
  const base = timestampString(timestamp);
  return dependencySerial > 0 ? `${base}+${dependencySerial}` : base;
}
