/**
 * Who may deploy on a compute node (master mode; proxy mode ignores it), as SlapOS has it:
 * `personal` its owner only (the default), `friend` its owner and listed users, `open` anyone,
 * `closed` nothing new.
 */
export type AllocationScope = 'personal' | 'friend' | 'open' | 'closed';

export const ALLOCATION_SCOPES: readonly AllocationScope[] = ['personal', 'friend', 'open', 'closed'];

export function isAllocationScope(value: string): value is AllocationScope {
  return (ALLOCATION_SCOPES as readonly string[]).includes(value);
}
