/**
 * Our extension of `POST /slapos.post.v0.software_instance`: who is requesting. The JSON API has no
 * field for it (its requests are user-level, docs/protocol.md §1.6), while an instance profile
 * requesting a child (`slapos.cookbook:request`) must be recorded with the requester partition, so
 * that the child joins the requester's instance tree (`requested_by` = the tree's root title), as
 * the legacy API's `computer_id` + `computer_partition_id` form fields do.
 *
 *   X-SlapOS-Requester-Computer-Guid: COMP-0
 *   X-SlapOS-Requester-Partition-Id: slappart3
 *
 * Both headers or neither (400 otherwise). Unknown or free requester partitions make a root
 * request, as slapproxy does. In proxy mode the local caller may speak for any partition; master
 * mode refuses the headers (400): an instance requests with its own certificate.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { SlapError } from '../../core/errors.ts';
import { REQUESTER_COMPUTER_HEADER, REQUESTER_PARTITION_HEADER } from '../../api/index.ts';

export interface RequesterPartition {
  computeNodeId: string;
  partitionId: string;
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (Array.isArray(value)) {
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `The ${name} header must be given once.`);
  }
  return value?.trim();
}

/**
 * The requester partition named by the request's headers, or undefined for a user-level request.
 * `refused` (master mode, where the caller's certificate says who requests): the headers are refused.
 */
export function requesterOf(
  headers: IncomingHttpHeaders,
  options: { refused?: boolean } = {},
): RequesterPartition | undefined {
  const computeNodeId = single(headers, REQUESTER_COMPUTER_HEADER);
  const partitionId = single(headers, REQUESTER_PARTITION_HEADER);
  if (computeNodeId === undefined && partitionId === undefined) return undefined;
  if (options.refused)
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `This master does not take ${REQUESTER_COMPUTER_HEADER} or ${REQUESTER_PARTITION_HEADER}: an instance requests with its own certificate.`,
    );
  if (!computeNodeId || !partitionId) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `A requester partition needs both ${REQUESTER_COMPUTER_HEADER} and ${REQUESTER_PARTITION_HEADER} (non-empty).`,
    );
  }
  return { computeNodeId, partitionId };
}
