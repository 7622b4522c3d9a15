/** The APIs a master client can speak (`[slapos] master_api`); see src/client/master-api.ts. */
export const MASTER_APIS = ['auto', 'json', 'legacy'] as const;
export type MasterApi = (typeof MASTER_APIS)[number];

export function isMasterApi(value: unknown): value is MasterApi {
  return typeof value === 'string' && (MASTER_APIS as readonly string[]).includes(value);
}
