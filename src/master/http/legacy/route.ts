/** What a legacy route is: a path, its method, and a handler that decodes, calls a service, encodes. */
import type { Caller, MasterServices, RequestOrigin } from '../../services/index.ts';
import type { LegacyForm } from './form.ts';

export interface LegacyCall {
  /** The query string (GET) or the form body (POST). */
  form: LegacyForm;
  caller: Caller;
  /** How the caller reached the master (for absolute URLs). */
  origin: () => RequestOrigin;
}

/**
 * Plain text or a marshalled document; bytes are a memoized answer (encoded once, shared until the
 * next write), sent gzip'd to the clients that accept it (memoized-answers.ts).
 */
export type LegacyAnswer = string | Buffer;

export interface LegacyRoute {
  method: 'GET' | 'POST';
  path: string;
  /** Status of an unknown (or denied) compute node, partition or instance: 404 unless slapproxy says 500. */
  lookupMissStatus?: number;
  handle(call: LegacyCall): Promise<LegacyAnswer> | LegacyAnswer;
}

/** What the legacy handlers share: the services and the configuration slapproxy reads. */
export interface LegacyEnvironment {
  services: MasterServices;
  /** `[slapproxy] software_product_list`: product name → software release URL. */
  softwareProducts: ReadonlyMap<string, string>;
  /** This process's run id (`/getRunId`, the multimaster self-check). */
  runId: string;
}
