/**
 * `slapos configure client`: writes the client configuration (default ~/.slapos/slapos-client.cfg,
 * mode 0600: it holds the API token) that every client command reads (client-config.ts).
 */
import { dirname, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { Option, type Command } from 'commander';
import { ACCESS_TOKEN_RULE, isAccessToken } from '../../core/access-token.ts';
import { SlapError } from '../../core/errors.ts';
import { MASTER_APIS, type MasterApi } from '../../core/master-apis.ts';
import { DEFAULT_CLIENT_CONFIGURATION } from '../client-config.ts';
import { renderClientConfig } from '../client-config-file.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

interface ConfigureClientOptions {
  masterUrl: string;
  token: string;
  caFile?: string;
  masterApi?: MasterApi;
  cfg?: string;
  json?: boolean;
}

function expandHome(path: string, ctx: CliContext): string {
  const home = ctx.env.HOME ?? homedir();
  const expanded = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
  return resolve(ctx.cwd, expanded);
}

async function configureClient(ctx: CliContext, options: ConfigureClientOptions): Promise<void> {
  const { parseMasterUrl } = await import('../../client/json-transport.ts');
  const masterUrl = parseMasterUrl(options.masterUrl).href.replace(/\/+$/, '');
  if (!isAccessToken(options.token))
    throw new SlapError('SLAP_ERR_USAGE', '--token is not a valid access token', {
      hint: `a token is ${ACCESS_TOKEN_RULE}`,
    });
  const out = expandHome(options.cfg ?? DEFAULT_CLIENT_CONFIGURATION, ctx);
  const caFile = options.caFile === undefined ? undefined : resolve(ctx.cwd, options.caFile);
  const text = renderClientConfig({ masterUrl, token: options.token, caFile, masterApi: options.masterApi });
  if (caFile !== undefined) {
    // The CA must be a readable PEM certificate now, not at the first command.
    const { readFile } = await import('node:fs/promises');
    const { parseCertificatePem } = await import('../../lib/x509.ts');
    let pem: string;
    try {
      pem = await readFile(caFile, 'utf8');
    } catch (error) {
      throw new SlapError('SLAP_ERR_CONFIG', `cannot read --ca-file ${caFile}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    parseCertificatePem(pem, `--ca-file ${caFile}`);
  }
  const { mkdir } = await import('node:fs/promises');
  const { writeFileAtomic } = await import('../../lib/atomic-write.ts');
  await mkdir(dirname(out), { recursive: true, mode: 0o700 });
  await writeFileAtomic(out, text, { mode: 0o600 });
  if (options.json)
    ctx.printJson({
      cfg: out,
      master_url: masterUrl,
      master_ca_file: caFile ?? null,
      master_api: options.masterApi ?? 'auto',
    });
  else ctx.print(`client configuration written to ${out}`);
}

export function registerConfigureClient(program: Command, ctx: CliContext): void {
  commandGroup(program, 'configure')
    .command('client')
    .description(
      `write the client configuration (default ${DEFAULT_CLIENT_CONFIGURATION}, mode 0600) for a master: its URL, your API token, its CA`,
    )
    .requiredOption('--master-url <url>', 'URL of the master (https://HOST:PORT)')
    .requiredOption('--token <token>', 'your API token (`slapos master user add` prints it)')
    .option('--ca-file <file>', "the master's CA certificate (DIR/ca.crt of the master), to verify it")
    .addOption(
      new Option(
        '--master-api <api>',
        'the API the master speaks: json, legacy (the SLAP XML protocol), or auto (probed at the first call; the default)',
      ).choices(MASTER_APIS),
    )
    .option('--cfg <file>', `where to write (default ${DEFAULT_CLIENT_CONFIGURATION})`)
    .option('--json', 'print machine-readable JSON')
    .action(async (options: ConfigureClientOptions) => {
      await configureClient(ctx, options);
    });
}
