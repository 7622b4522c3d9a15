/**
 * How instances are named on the wire in proxy mode (slapproxy's scheme, docs/protocol.md §1.3).
 *
 * An instance is identified by its title and the title of the root instance of its tree
 * (`requestedBy`, the empty string for a root). Shared and non-shared instances live in separate
 * namespaces. The JSON API's `instance_guid` is `<title>___<requestedBy>___<0|1>`.
 */
import { SlapError } from './errors.ts';

export interface InstanceIdentity {
  /** The user whose namespace holds the instance ('' in proxy mode, whose guids never name one). */
  owner: string;
  title: string;
  /** Title of the root instance of the tree; '' for a root instance. */
  requestedBy: string;
  shared: boolean;
}

const SEPARATOR = '___';

export function formatInstanceGuid(identity: Omit<InstanceIdentity, 'owner'>): string {
  return `${identity.title}${SEPARATOR}${identity.requestedBy}${SEPARATOR}${identity.shared ? 1 : 0}`;
}

/** Python's int() on a str, restricted to ASCII digits: optional blanks, sign, `_` between digits. */
const PYTHON_INT = /^[ \t\n\r\f\v]*[+-]?\d+(?:_\d+)*[ \t\n\r\f\v]*$/;

/**
 * Parses a JSON API instance guid the way slapproxy does: split on `___` at most twice, three parts
 * required, the last one an integer (non-zero = shared). Throws the API's 403
 * `instance_guid X not handled.` otherwise.
 */
export function parseInstanceGuid(guid: string): InstanceIdentity {
  const first = guid.indexOf(SEPARATOR);
  const second = first < 0 ? -1 : guid.indexOf(SEPARATOR, first + SEPARATOR.length);
  const flag = second < 0 ? '' : guid.slice(second + SEPARATOR.length);
  if (second < 0 || !PYTHON_INT.test(flag)) {
    throw new SlapError('SLAP_ERR_INSTANCE_GUID_INVALID', `instance_guid ${guid} not handled.`);
  }
  return {
    owner: '',
    title: guid.slice(0, first),
    requestedBy: guid.slice(first + SEPARATOR.length, second),
    shared: /[1-9]/.test(flag),
  };
}

/** The legacy reference of a shared instance: `<requestedBy>_<title>` (e.g. `_MyShared` for a root). */
export function sharedReference(identity: Pick<InstanceIdentity, 'title' | 'requestedBy'>): string {
  return `${identity.requestedBy}_${identity.title}`;
}

/** Splits a shared reference at its first `_` (slapproxy's reading, wrong for root titles with `_`). */
export function parseSharedReference(reference: string): { title: string; requestedBy: string } | undefined {
  const index = reference.indexOf('_');
  if (index < 0) return undefined;
  return { requestedBy: reference.slice(0, index), title: reference.slice(index + 1) };
}

/** The title of the root of an instance's tree (`root_instance_title`). */
export function rootTitleOf(identity: Pick<InstanceIdentity, 'title' | 'requestedBy'>): string {
  return identity.requestedBy || identity.title;
}
