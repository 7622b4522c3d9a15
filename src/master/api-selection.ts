/** Which APIs a master serves (`slapos proxy start --api`): light, so the CLI can check it before loading the server. */
import { SlapError } from '../core/errors.ts';

/** `both` (default), `json` (JSON API v0 only) or `legacy` (the SLAP XML protocol only, as older masters). */
export type MasterApiSelection = 'both' | 'json' | 'legacy';

const SELECTIONS: readonly string[] = ['both', 'json', 'legacy'] satisfies MasterApiSelection[];

export function parseMasterApiSelection(text: string, source: string): MasterApiSelection {
  if (SELECTIONS.includes(text)) return text as MasterApiSelection;
  throw new SlapError(
    'SLAP_ERR_USAGE',
    `${source} must be one of ${SELECTIONS.join(', ')}, not ${JSON.stringify(text)}`,
  );
}
