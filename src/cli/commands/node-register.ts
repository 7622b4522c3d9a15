/** `slapos node register NAME`: make this machine a compute node of a master in master mode. */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { ACCESS_TOKEN_RULE, isAccessToken } from '../../core/access-token.ts';
import { SlapError } from '../../core/errors.ts';
import {
  DEFAULT_CONFIG_DIR,
  DEFAULT_INTERFACE_NAME,
  DEFAULT_IPV4_LOCAL_NETWORK,
  DEFAULT_PARTITION_NUMBER,
} from '../../node/register/registered-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

interface RegisterOptions {
  masterUrl: string;
  token: string;
  caFile?: string;
  configDir: string;
  sandbox?: boolean;
  force?: boolean;
  partitionNumber: number;
  interfaceName?: string;
  ipv4LocalNetwork?: string;
  softwareRoot?: string;
  instanceRoot?: string;
  json?: boolean;
}

function wholeNumber(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

export function registerNodeRegister(program: Command, ctx: CliContext): void {
  commandGroup(program, 'node')
    .command('register')
    .description(
      'register this machine as a compute node of a master in master mode: make a key, get a certificate with a registration token (`slapos token create`), write slapos.cfg',
    )
    .argument('<name>', "the compute node's title at the master")
    .requiredOption('--master-url <url>', "the master's URL, https://HOST:PORT")
    .requiredOption(
      '--token <token>',
      'a registration token (one use, see `slapos token create`); never printed',
    )
    .option('--ca-file <file>', "the CA of the master's certificate (default: the system's authorities)")
    .option('--config-dir <dir>', 'where slapos.cfg and ssl/ are written', DEFAULT_CONFIG_DIR)
    .option('--sandbox', 'a node without root: partitions share this user, roots under --config-dir')
    .option('--force', 'replace an existing configuration in --config-dir')
    .option('--partition-number <n>', 'number of partitions', wholeNumber, DEFAULT_PARTITION_NUMBER)
    .option(
      '--interface-name <if>',
      `interface of the partitions' addresses (default: ${DEFAULT_INTERFACE_NAME})`,
    )
    .option(
      '--ipv4-local-network <cidr>',
      `pool of the partitions' IPv4 addresses (default: ${DEFAULT_IPV4_LOCAL_NETWORK})`,
    )
    .option('--software-root <dir>', 'where software releases are built (default: /opt/slapgrid)')
    .option('--instance-root <dir>', 'where partitions live (default: /srv/slapgrid)')
    .option('--json', 'print machine-readable JSON')
    .action(async (name: string, options: RegisterOptions) => {
      if (!isAccessToken(options.token))
        throw new SlapError('SLAP_ERR_USAGE', '--token is not a valid registration token', {
          hint: `a token is ${ACCESS_TOKEN_RULE}; \`slapos token create\` gives one`,
        });
      const path = (value: string): string => absolutePath(ctx, value);
      const caFile = options.caFile === undefined ? undefined : path(options.caFile);
      let masterCaPem: string | undefined;
      if (caFile !== undefined) {
        try {
          masterCaPem = await readFile(caFile, 'utf8');
        } catch (error) {
          throw new SlapError(
            'SLAP_ERR_CONFIG',
            `cannot read --ca-file ${caFile}: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
      }
      const sandbox = options.sandbox ?? false;
      const { registerNode } = await import('../../node/register/register-node.ts');
      const { createMasterClient } = await import('../../client/master-api.ts');
      // Registration is our extension of the JSON API: no legacy master has it.
      const client = createMasterClient({
        api: 'json',
        masterUrl: options.masterUrl,
        accessToken: options.token,
        logger: ctx.logger(),
        ...(masterCaPem === undefined ? {} : { tls: { ca: masterCaPem } }),
      });
      let registered;
      try {
        registered = await registerNode(
          {
            name,
            masterUrl: client.masterUrl,
            masterCaPem,
            configDir: path(options.configDir),
            sandbox,
            force: options.force ?? false,
            partitionNumber: options.partitionNumber,
            interfaceName: options.interfaceName ?? (sandbox ? undefined : DEFAULT_INTERFACE_NAME),
            ipv4LocalNetwork: options.ipv4LocalNetwork ?? (sandbox ? undefined : DEFAULT_IPV4_LOCAL_NETWORK),
            softwareRoot: options.softwareRoot === undefined ? undefined : path(options.softwareRoot),
            instanceRoot: options.instanceRoot === undefined ? undefined : path(options.instanceRoot),
          },
          client,
          { logger: ctx.logger() },
        );
      } catch (error) {
        throw registrationError(error, caFile !== undefined);
      } finally {
        await client.close();
      }
      if (options.json) {
        ctx.printJson({
          computer_id: registered.computerId,
          config_file: registered.configFile,
          key_file: registered.layout.keyFile,
          cert_file: registered.layout.certFile,
          valid_to: registered.validTo,
        });
        return;
      }
      ctx.print(`Registered as compute node ${registered.computerId}.`);
      ctx.print(`Configuration: ${registered.configFile} (certificate valid to ${registered.validTo}).`);
      ctx.print(`Next: slapos node format --now --cfg ${registered.configFile}`);
    });
}

function absolutePath(ctx: CliContext, value: string): string {
  const home = ctx.env.HOME ?? homedir();
  const expanded = value === '~' ? home : value.startsWith('~/') ? join(home, value.slice(2)) : value;
  return isAbsolute(expanded) ? expanded : resolve(ctx.cwd, expanded);
}

/**
 * What a failed registration means for the person registering: a 401 is about the token (the generic
 * hint speaks of master_token); a certificate the system does not trust, without --ca-file, calls
 * for the master's CA.
 */
function registrationError(error: unknown, withCaFile: boolean): unknown {
  if (!(error instanceof SlapError)) return error;
  if (error.code === 'SLAP_ERR_UNAUTHENTICATED')
    return new SlapError('SLAP_ERR_UNAUTHENTICATED', 'the master refused the registration token', {
      cause: error,
      hint: 'a token works once and expires (1 hour by default): ask for a new one with `slapos token create`',
    });
  const tlsCode = error.details?.errorCode;
  if (!withCaFile && typeof tlsCode === 'string' && /CERT|TLS|SSL/.test(tlsCode))
    return new SlapError(error.code, error.message, {
      cause: error,
      hint: "the master's certificate is not signed by an authority this system trusts: pass --ca-file with the master's CA (ca.crt in the master's directory)",
    });
  return error;
}
