/**
 * Finding and reading slapos.cfg as the original `slapos` does: `--cfg FILE`, else the
 * SLAPOS_CONFIGURATION environment variable, else /etc/opt/slapos/slapos.cfg if it exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { parseIni, type IniDocument } from '../lib/ini.ts';

export const SYSTEM_SLAPOS_CONFIGURATION = '/etc/opt/slapos/slapos.cfg';

export interface SlaposConfigLocation {
  cfg?: string | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The system-wide file (tests point it elsewhere). */
  systemPath?: string;
}

/** The slapos.cfg to read, or undefined when none is given and the system one does not exist. */
export function locateSlaposConfig(location: SlaposConfigLocation): string | undefined {
  const explicit = location.cfg ?? location.env.SLAPOS_CONFIGURATION;
  if (explicit !== undefined && explicit !== '') return resolve(location.cwd, explicit);
  const system = location.systemPath ?? SYSTEM_SLAPOS_CONFIGURATION;
  return existsSync(system) ? system : undefined;
}

export function readSlaposConfig(path: string): IniDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `cannot read the configuration file ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return parseIni(text, path);
}
