/** A short digest of a JSON value, object keys sorted (so key order never matters). */
import { createHash } from 'node:crypto';

export function stableDigest(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 16);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A partition's change marker when the master's timestamp alone may miss changes (coarse, or not
 * bumped by every change): the timestamp, then a digest of what the node deploys.
 */
export function stateMarker(timestamp: number | string, deployed: unknown): string {
  return `${timestamp}-${stableDigest(deployed)}`;
}
