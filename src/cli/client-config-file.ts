/**
 * The client configuration `slapos configure client` writes (and client-config.ts reads):
 *
 *   [slapconsole]
 *   master_url = https://master.example.com:8443
 *   master_token = <token>
 *   master_ca_file = /home/me/.slapos/master-ca.crt
 *
 * Values are written so that they read back exactly (`%` doubled for ConfigParser's interpolation);
 * a value that cannot (a line break, a control character, blanks at its ends) is refused, and the
 * text is parsed back and compared before it is returned, so no value changes the file's structure.
 */
import { SlapError } from '../core/errors.ts';
import { MASTER_TOKEN_OPTION } from '../core/access-token.ts';
import { parseIni } from '../lib/ini.ts';

export interface ClientConfigValues {
  masterUrl: string;
  token: string;
  caFile?: string | undefined;
}

const SECTION = 'slapconsole';

function iniValue(name: string, value: string): string {
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value) || value.trim() !== value || value === '')
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `${name} cannot go into a configuration file (empty, blanks at its ends, or a control or line-break character)`,
    );
  return value.replace(/%/g, '%%');
}

export function renderClientConfig(values: ClientConfigValues): string {
  const entries: [string, string, string][] = [
    ['master_url', '--master-url', values.masterUrl],
    [MASTER_TOKEN_OPTION, '--token', values.token],
    ...(values.caFile === undefined
      ? []
      : [['master_ca_file', '--ca-file', values.caFile] as [string, string, string]]),
  ];
  const text = [
    '# Written by `slapos configure client`: the master this client talks to. It holds an API token: keep it 0600.',
    `[${SECTION}]`,
    ...entries.map(([key, name, value]) => `${key} = ${iniValue(name, value)}`),
    '',
  ].join('\n');
  const parsed = parseIni(text, 'the client configuration');
  for (const [key, name, value] of entries)
    if (parsed.get(SECTION, key) !== value)
      throw new SlapError('SLAP_ERR_USAGE', `${name} does not read back as written in a configuration file`);
  return text;
}
