/**
 * The client configuration `slapos configure client` writes (and client-config.ts reads):
 *
 *   [slapconsole]
 *   master_url = https://master.example.com:8443
 *   master_token = <token>
 *   master_ca_file = /home/me/.slapos/master-ca.crt
 *   master_api = legacy                (auto, json or legacy; written when given)
 *
 * Written by the INI writer (ini-render.ts), so every value reads back exactly; a value it refuses
 * (a line break, a control character, blanks at its ends) is named by its command-line option.
 */
import { SlapError } from '../core/errors.ts';
import { MASTER_TOKEN_OPTION } from '../core/access-token.ts';
import type { MasterApi } from '../core/master-apis.ts';
import { iniValueProblem, renderIni } from '../lib/ini-render.ts';

export interface ClientConfigValues {
  masterUrl: string;
  token: string;
  caFile?: string | undefined;
  masterApi?: MasterApi | undefined;
}

export function renderClientConfig(values: ClientConfigValues): string {
  const entries: [key: string, option: string, value: string][] = [
    ['master_url', '--master-url', values.masterUrl],
    [MASTER_TOKEN_OPTION, '--token', values.token],
  ];
  if (values.caFile !== undefined) entries.push(['master_ca_file', '--ca-file', values.caFile]);
  if (values.masterApi !== undefined) entries.push(['master_api', '--master-api', values.masterApi]);
  for (const [, option, value] of entries) {
    const problem = value === '' ? 'is empty' : iniValueProblem(value);
    if (problem !== undefined)
      throw new SlapError('SLAP_ERR_USAGE', `${option} cannot go into a configuration file: it ${problem}`);
  }
  return renderIni([['slapconsole', entries.map(([key, , value]) => [key, value] as const)]], {
    comment: [
      'Written by `slapos configure client`: the master this client talks to. It holds an API token: keep it 0600.',
    ],
  });
}
