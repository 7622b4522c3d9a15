/** The states SlapOS uses, as plain string unions (wire values). */

/** What a user or requester asks of an instance. */
export const REQUESTED_STATES = ['started', 'stopped', 'destroyed'] as const;
export type RequestedState = (typeof REQUESTED_STATES)[number];

/** What a node reports about an instance it deploys. */
export type InstanceReportedState = 'started' | 'stopped' | 'destroyed';

/** Allocation state of a partition: free, or hosting a (non-shared) instance. */
export type SlapState = 'free' | 'busy';

/** What a user asks of a software installation (supply). */
export const SOFTWARE_INSTALLATION_STATES = ['available', 'destroyed'] as const;
export type SoftwareInstallationState = (typeof SOFTWARE_INSTALLATION_STATES)[number];

/** What a node reports about a software installation it builds. */
export type SoftwareInstallationReportedState = 'available' | 'building' | 'destroyed';

export function isRequestedState(value: unknown): value is RequestedState {
  return typeof value === 'string' && (REQUESTED_STATES as readonly string[]).includes(value);
}
