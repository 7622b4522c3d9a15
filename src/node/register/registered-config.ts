/**
 * What `slapos node register` leaves in the configuration directory (default /etc/opt/slapos, as the
 * original): the node's key and certificate and the master's CA under `ssl/`, the partitions'
 * certificates under `ssl/partition_pki/`, and a slapos.cfg that `node format|software|instance|
 * report|run --cfg DIR/slapos.cfg` use at once, over mutual TLS. No secret goes into slapos.cfg: the
 * registration token is used once and forgotten; the key has its own file (0600).
 */
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { renderIni, type IniSection } from '../../lib/ini-render.ts';

export const DEFAULT_CONFIG_DIR = '/etc/opt/slapos';
export const DEFAULT_PARTITION_NUMBER = 10;
export const DEFAULT_INTERFACE_NAME = 'lo';
export const DEFAULT_IPV4_LOCAL_NETWORK = '10.0.0.0/16';
export const SYSTEM_SOFTWARE_ROOT = '/opt/slapgrid';
export const SYSTEM_INSTANCE_ROOT = '/srv/slapgrid';
/** Partition counts beyond this are surely a typo (format creates a directory and user per partition). */
export const MAX_PARTITION_NUMBER = 4096;

export interface RegistrationLayout {
  configDir: string;
  configFile: string;
  sslDir: string;
  /** The node's private key (0600). */
  keyFile: string;
  /** The node's certificate (CN = its compute node id). */
  certFile: string;
  /** The CA that verifies the master's server certificate (`--ca-file`, copied). */
  masterCaFile: string;
  /** The partitions' certificates and keys, `<partition>.crt|.key`. */
  certificateRepository: string;
}

export function registrationLayout(configDir: string): RegistrationLayout {
  const sslDir = join(configDir, 'ssl');
  return {
    configDir,
    configFile: join(configDir, 'slapos.cfg'),
    sslDir,
    keyFile: join(sslDir, 'computer.key'),
    certFile: join(sslDir, 'computer.crt'),
    masterCaFile: join(sslDir, 'master-ca.crt'),
    certificateRepository: join(sslDir, 'partition_pki'),
  };
}

export interface RegisteredNodeSettings {
  /** The compute node id the master assigned (`COMP-n`). */
  computerId: string;
  masterUrl: string;
  /** Sandbox mode: partitions share the running user, loopback addresses, nothing on the host changes. */
  sandbox: boolean;
  /** Whether the master's CA was given (`--ca-file`); else the system's authorities verify the master. */
  withMasterCa: boolean;
  partitionNumber: number;
  softwareRoot: string;
  instanceRoot: string;
  interfaceName: string | undefined;
  ipv4LocalNetwork: string | undefined;
}

/** The roots a node gets when none is given: under the configuration directory in sandbox mode. */
export function defaultRoots(
  configDir: string,
  sandbox: boolean,
): { softwareRoot: string; instanceRoot: string } {
  return sandbox
    ? { softwareRoot: join(configDir, 'soft'), instanceRoot: join(configDir, 'inst') }
    : { softwareRoot: SYSTEM_SOFTWARE_ROOT, instanceRoot: SYSTEM_INSTANCE_ROOT };
}

/**
 * The slapos.cfg text. Every value is checked by the INI writer: one that would not read back exactly
 * (a line break, a control character) is refused, so a value never changes the file's structure.
 */
export function renderRegisteredNodeConfig(
  layout: RegistrationLayout,
  settings: RegisteredNodeSettings,
): string {
  if (!Number.isInteger(settings.partitionNumber) || settings.partitionNumber < 0)
    throw new SlapError('SLAP_ERR_USAGE', 'the partition number must be a whole number, 0 or more');
  const slapos: [string, string][] = [
    ['computer_id', settings.computerId],
    ['master_url', settings.masterUrl],
    ['key_file', layout.keyFile],
    ['cert_file', layout.certFile],
  ];
  if (settings.withMasterCa) slapos.push(['master_ca_file', layout.masterCaFile]);
  slapos.push(
    ['certificate_repository_path', layout.certificateRepository],
    ['software_root', settings.softwareRoot],
    ['instance_root', settings.instanceRoot],
    ['sandbox', settings.sandbox ? 'true' : 'false'],
  );
  const slapformat: [string, string][] = [['partition_amount', String(settings.partitionNumber)]];
  if (settings.interfaceName !== undefined) slapformat.push(['interface_name', settings.interfaceName]);
  if (settings.ipv4LocalNetwork !== undefined)
    slapformat.push(['ipv4_local_network', settings.ipv4LocalNetwork]);
  if (!settings.sandbox)
    slapformat.push(
      ['partition_base_name', 'slappart'],
      ['user_base_name', 'slapuser'],
      ['software_user', 'slapsoft'],
    );
  const sections: [string, IniSection][] = [
    ['slapos', slapos],
    ['slapformat', slapformat],
  ];
  return renderIni(sections, {
    comment: [
      'A compute node registered by slapos node register. key_file holds its private key;',
      'the node renews its certificate before it expires (key_file and cert_file are replaced).',
    ],
  });
}
