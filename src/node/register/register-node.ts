/**
 * `slapos node register NAME`: makes this machine a compute node of a master in master mode. The
 * node makes its own key (it never leaves the machine), sends a certificate request with the
 * one-time registration token, and writes the certificate the master signs (its subject is the
 * compute node id the master assigns, `COMP-n`) and a slapos.cfg for mutual TLS (see
 * registered-config.ts). Everything the files need is checked before the token is spent.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { TEXT_RULES, textProblem } from '../../core/text-rules.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { createKeyAndCertificateRequest } from '../../lib/certificate-request.ts';
import { iniValueProblem } from '../../lib/ini-render.ts';
import type { Logger } from '../../lib/logger.ts';
import { pathExists } from '../../lib/path-exists.ts';
import { CERTIFICATE_REPOSITORY_MODE } from '../format/plan.ts';
import { replaceKeyPair } from '../key-pair-files.ts';
import { checkIssuedCertificate } from '../issued-certificate.ts';
import {
  defaultRoots,
  MAX_PARTITION_NUMBER,
  registrationLayout,
  renderRegisteredNodeConfig,
  type RegisteredNodeSettings,
  type RegistrationLayout,
} from './registered-config.ts';

export interface RegisterNodeInput {
  /** The compute node's title at the master. */
  name: string;
  /** The master's URL (https). */
  masterUrl: string;
  /** PEM of the CA that verifies the master (`--ca-file`), copied into the configuration. */
  masterCaPem: string | undefined;
  /** Absolute. */
  configDir: string;
  sandbox: boolean;
  /** Replace an existing configuration. */
  force: boolean;
  partitionNumber: number;
  interfaceName: string | undefined;
  ipv4LocalNetwork: string | undefined;
  /** Absolute; default: /opt/slapgrid and /srv/slapgrid, or under configDir in sandbox mode. */
  softwareRoot: string | undefined;
  instanceRoot: string | undefined;
}

/** The registration call (a MasterClient holding the registration token is one). */
export interface NodeRegistrar {
  registerComputeNode(
    input: { title: string; certificateRequest: string },
    options?: { signal?: AbortSignal },
  ): Promise<{ computerGuid: string; certificate: string; caCertificate: string }>;
}

export interface RegisteredNode {
  computerId: string;
  configFile: string;
  layout: RegistrationLayout;
  /** The certificate's end of validity (ISO 8601). */
  validTo: string;
}

/** The title rule of the master for NAME; undefined when acceptable. */
export function nodeNameProblem(name: string): string | undefined {
  return textProblem(name, TEXT_RULES.title) ?? iniValueProblem(name);
}

export async function registerNode(
  input: RegisterNodeInput,
  registrar: NodeRegistrar,
  options: { signal?: AbortSignal; logger?: Logger } = {},
): Promise<RegisteredNode> {
  const problem = nodeNameProblem(input.name);
  if (problem !== undefined) throw new SlapError('SLAP_ERR_USAGE', `the node name ${problem}`);
  if (!input.masterUrl.startsWith('https://'))
    throw new SlapError('SLAP_ERR_USAGE', 'a node registers with a master over https only', {
      hint: 'give the URL of a master in master mode, https://HOST:PORT (`slapos master start` prints it)',
    });
  if (
    !Number.isInteger(input.partitionNumber) ||
    input.partitionNumber < 0 ||
    input.partitionNumber > MAX_PARTITION_NUMBER
  )
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `the partition number must be a whole number from 0 to ${MAX_PARTITION_NUMBER}`,
    );
  const layout = registrationLayout(input.configDir);
  await refuseExisting(layout, input.force);
  const roots = defaultRoots(input.configDir, input.sandbox);
  const settings = (computerId: string): RegisteredNodeSettings => ({
    computerId,
    masterUrl: input.masterUrl.endsWith('/') ? input.masterUrl : `${input.masterUrl}/`,
    sandbox: input.sandbox,
    withMasterCa: input.masterCaPem !== undefined,
    partitionNumber: input.partitionNumber,
    softwareRoot: input.softwareRoot ?? roots.softwareRoot,
    instanceRoot: input.instanceRoot ?? roots.instanceRoot,
    interfaceName: input.interfaceName,
    ipv4LocalNetwork: input.ipv4LocalNetwork,
  });
  for (const [option, path] of [
    ['--software-root', settings('COMP-0').softwareRoot],
    ['--instance-root', settings('COMP-0').instanceRoot],
  ] as const)
    if (!isAbsolute(path)) throw new SlapError('SLAP_ERR_USAGE', `${option} must be an absolute path`);
  // Every value the file holds is checked now: a refusal after the call would waste the token.
  renderRegisteredNodeConfig(layout, settings('COMP-0'));

  const { keyPem, csrPem } = await createKeyAndCertificateRequest();
  const answer = await registrar.registerComputeNode(
    { title: input.name, certificateRequest: csrPem },
    options.signal ? { signal: options.signal } : {},
  );
  const idProblem = textProblem(answer.computerGuid, TEXT_RULES.name) ?? iniValueProblem(answer.computerGuid);
  if (idProblem !== undefined)
    throw new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      `the master answered with a compute node id that ${idProblem}`,
    );
  const issued = checkIssuedCertificate(answer.certificate, keyPem, answer.computerGuid);
  const text = renderRegisteredNodeConfig(layout, settings(answer.computerGuid));

  await mkdir(layout.sslDir, { recursive: true, mode: 0o755 });
  await replaceKeyPair(layout, { keyPem, certificatePem: answer.certificate });
  if (input.masterCaPem !== undefined)
    // Read by the partitions' recipes (as their users in system mode) to verify the master.
    await writeFileAtomic(layout.masterCaFile, input.masterCaPem, { mode: 0o644 });
  await mkdir(layout.certificateRepository, { recursive: true });
  await chmod(layout.certificateRepository, CERTIFICATE_REPOSITORY_MODE);
  await writeFileAtomic(layout.configFile, text, { mode: 0o644 });
  options.logger?.info(
    {
      computerId: answer.computerGuid,
      serial: issued.serialNumber.toLowerCase(),
      configFile: layout.configFile,
    },
    'compute node registered',
  );
  return {
    computerId: answer.computerGuid,
    configFile: layout.configFile,
    layout,
    validTo: new Date(issued.validTo).toISOString(),
  };
}

async function refuseExisting(layout: RegistrationLayout, force: boolean): Promise<void> {
  if (force) return;
  for (const file of [layout.configFile, layout.keyFile, layout.certFile])
    if (await pathExists(file))
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `${layout.configDir} already holds a node configuration (${file})`,
        {
          hint: 'pass --force to register anew and replace it, or --config-dir DIR to write elsewhere',
        },
      );
}
