/**
 * Which API a master client speaks (`[slapos] master_api`): the JSON API v0, the legacy SLAP
 * protocol, or `auto` (the default): the first call probes the master once with
 * `slapos.get.v0.hateoas_url`; a 404 means a master without the JSON API (legacy), any other HTTP
 * answer the JSON API. A probe that gets no answer (unreachable, timeout, aborted) decides nothing:
 * the next call probes again.
 */
import { SlapError } from '../core/errors.ts';
import type { MasterApi } from '../core/master-apis.ts';
import { LegacyMasterClient, type LegacyMasterClientOptions } from './legacy/legacy-master-client.ts';
import {
  JsonMasterClient,
  type CallOptions,
  type MasterClient,
  type MasterClientOptions,
} from './master-client.ts';
import { MasterHttp, type TlsMaterial } from './master-http.ts';

export { isMasterApi, MASTER_APIS, type MasterApi } from '../core/master-apis.ts';

export interface CreateMasterClientOptions extends MasterClientOptions {
  /** Default `auto`. */
  api?: MasterApi | undefined;
  /** The compute node the client acts for (the legacy client looks unknown instance guids up there). */
  computerGuid?: string | undefined;
}

/** A master client speaking `options.api`. */
export function createMasterClient(options: CreateMasterClientOptions): MasterClient {
  switch (options.api ?? 'auto') {
    case 'json':
      return new JsonMasterClient(options);
    case 'legacy':
      return new LegacyMasterClient(options);
    case 'auto':
      return new AutoMasterClient(options);
  }
}

/** Whether an error is an HTTP answer of the master (not a failure to get one). */
function answeredStatus(error: unknown): number | undefined {
  if (!(error instanceof SlapError)) return undefined;
  const status = error.details?.status;
  return typeof status === 'number' ? status : undefined;
}

/** Delegates every call to the client the probe chose; the probe runs once, at the first call. */
class AutoMasterClient implements MasterClient {
  private readonly http: MasterHttp;
  private chosen: MasterClient | undefined;
  private probing: Promise<MasterClient> | undefined;

  constructor(private readonly options: LegacyMasterClientOptions) {
    this.http = new MasterHttp(options);
  }

  /** The API the probe chose, undefined before the first answered call. */
  get api(): 'json' | 'legacy' | undefined {
    if (this.chosen === undefined) return undefined;
    return this.chosen instanceof LegacyMasterClient ? 'legacy' : 'json';
  }

  private client(options: CallOptions | undefined): Promise<MasterClient> {
    if (this.chosen) return Promise.resolve(this.chosen);
    this.probing ??= this.probe(options).then(
      (client) => (this.chosen = client),
      (error: unknown) => {
        this.probing = undefined;
        throw error;
      },
    );
    return this.probing;
  }

  private async probe(options: CallOptions | undefined): Promise<MasterClient> {
    const json = new JsonMasterClient(this.options, this.http);
    try {
      await json.getHateoasUrl(options);
      return json;
    } catch (error) {
      const status = answeredStatus(error);
      if (status === undefined) throw error;
      if (status !== 404) return json;
      this.http.logger?.info(
        { masterUrl: this.http.masterUrl },
        'the master has no JSON API (404): using the legacy SLAP API',
      );
      return new LegacyMasterClient(this.options, this.http);
    }
  }

  get masterUrl(): string {
    return this.http.masterUrl;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  replaceTls(tls: TlsMaterial): void {
    this.http.replaceTls(tls);
  }

  /** Unknown before the probe: assumed, as a JSON client does until the master answers 404. */
  get supportsPromiseResults(): boolean {
    return this.chosen?.supportsPromiseResults ?? true;
  }

  requestInstance: MasterClient['requestInstance'] = async (input, options) =>
    (await this.client(options)).requestInstance(input, options);
  getInstance: MasterClient['getInstance'] = async (guid, options) =>
    (await this.client(options)).getInstance(guid, options);
  getInstanceTree: MasterClient['getInstanceTree'] = async (title, options) =>
    (await this.client(options)).getInstanceTree(title, options);
  listInstanceTrees: MasterClient['listInstanceTrees'] = async (options) =>
    (await this.client(options)).listInstanceTrees(options);
  supply: MasterClient['supply'] = async (input, options) =>
    (await this.client(options)).supply(input, options);
  renameInstance: MasterClient['renameInstance'] = async (input, options) =>
    (await this.client(options)).renameInstance(input, options);
  listComputeNodes: MasterClient['listComputeNodes'] = async (options) =>
    (await this.client(options)).listComputeNodes(options);
  listComputeNodeInstances: MasterClient['listComputeNodeInstances'] = async (guid, options) =>
    (await this.client(options)).listComputeNodeInstances(guid, options);
  listSoftwareInstallations: MasterClient['listSoftwareInstallations'] = async (guid, options) =>
    (await this.client(options)).listSoftwareInstallations(guid, options);
  getComputePartition: MasterClient['getComputePartition'] = async (input, options) =>
    (await this.client(options)).getComputePartition(input, options);
  formatComputeNode: MasterClient['formatComputeNode'] = async (input, options) =>
    (await this.client(options)).formatComputeNode(input, options);
  bangComputeNode: MasterClient['bangComputeNode'] = async (input, options) =>
    (await this.client(options)).bangComputeNode(input, options);
  reportComputeNodeUsage: MasterClient['reportComputeNodeUsage'] = async (input, options) =>
    (await this.client(options)).reportComputeNodeUsage(input, options);
  getComputeNodeStatus: MasterClient['getComputeNodeStatus'] = async (guid, options) =>
    (await this.client(options)).getComputeNodeStatus(guid, options);
  createComputeNodeCertificate: MasterClient['createComputeNodeCertificate'] = async (guid, options) =>
    (await this.client(options)).createComputeNodeCertificate(guid, options);
  revokeComputeNodeCertificate: MasterClient['revokeComputeNodeCertificate'] = async (guid, options) =>
    (await this.client(options)).revokeComputeNodeCertificate(guid, options);
  createRegistrationToken: MasterClient['createRegistrationToken'] = async (input, options) =>
    (await this.client(options)).createRegistrationToken(input, options);
  registerComputeNode: MasterClient['registerComputeNode'] = async (input, options) =>
    (await this.client(options)).registerComputeNode(input, options);
  renewComputeNodeCertificate: MasterClient['renewComputeNodeCertificate'] = async (input, options) =>
    (await this.client(options)).renewComputeNodeCertificate(input, options);
  reportSoftwareInstallationState: MasterClient['reportSoftwareInstallationState'] = async (input, options) =>
    (await this.client(options)).reportSoftwareInstallationState(input, options);
  reportSoftwareInstallationError: MasterClient['reportSoftwareInstallationError'] = async (input, options) =>
    (await this.client(options)).reportSoftwareInstallationError(input, options);
  reportInstanceState: MasterClient['reportInstanceState'] = async (input, options) =>
    (await this.client(options)).reportInstanceState(input, options);
  reportInstanceError: MasterClient['reportInstanceError'] = async (input, options) =>
    (await this.client(options)).reportInstanceError(input, options);
  setConnectionParameters: MasterClient['setConnectionParameters'] = async (input, options) =>
    (await this.client(options)).setConnectionParameters(input, options);
  bang: MasterClient['bang'] = async (input, options) => (await this.client(options)).bang(input, options);
  listHostedSharedInstances: MasterClient['listHostedSharedInstances'] = async (guid, options) =>
    (await this.client(options)).listHostedSharedInstances(guid, options);
  getInstanceCertificate: MasterClient['getInstanceCertificate'] = async (guid, options) =>
    (await this.client(options)).getInstanceCertificate(guid, options);
  readNodeSnapshot: MasterClient['readNodeSnapshot'] = async (guid, options) =>
    (await this.client(options)).readNodeSnapshot(guid, options);
  watchComputeNode: MasterClient['watchComputeNode'] = async (input, options) =>
    (await this.client(options)).watchComputeNode(input, options);
  reportPromiseResults: MasterClient['reportPromiseResults'] = async (input, options) =>
    (await this.client(options)).reportPromiseResults(input, options);
  getPromiseResults: MasterClient['getPromiseResults'] = async (guid, options) =>
    (await this.client(options)).getPromiseResults(guid, options);
  getInstanceStatus: MasterClient['getInstanceStatus'] = async (guid, options) =>
    (await this.client(options)).getInstanceStatus(guid, options);
  listSoftwareInstallationStatuses: MasterClient['listSoftwareInstallationStatuses'] = async (
    guid,
    options,
  ) => (await this.client(options)).listSoftwareInstallationStatuses(guid, options);
  updateComputeNodeAccess: MasterClient['updateComputeNodeAccess'] = async (guid, access, options) =>
    (await this.client(options)).updateComputeNodeAccess(guid, access, options);
  getInvoiceEvidence: MasterClient['getInvoiceEvidence'] = async (id, options) =>
    (await this.client(options)).getInvoiceEvidence(id, options);
  listInvoices: MasterClient['listInvoices'] = async (filter, options) =>
    (await this.client(options)).listInvoices(filter, options);
  getInvoice: MasterClient['getInvoice'] = async (id, options) =>
    (await this.client(options)).getInvoice(id, options);
  takeOverInstanceTree: MasterClient['takeOverInstanceTree'] = async (input, options) =>
    (await this.client(options)).takeOverInstanceTree(input, options);
  syncBackups: MasterClient['syncBackups'] = async (body, options) =>
    (await this.client(options)).syncBackups(body, options);
  requestBackup: MasterClient['requestBackup'] = async (title, options) =>
    (await this.client(options)).requestBackup(title, options);
  listBackups: MasterClient['listBackups'] = async (title, options) =>
    (await this.client(options)).listBackups(title, options);
  getBackupState: MasterClient['getBackupState'] = async (title, options) =>
    (await this.client(options)).getBackupState(title, options);
  requestRestore: MasterClient['requestRestore'] = async (input, options) =>
    (await this.client(options)).requestRestore(input, options);
  getHateoasUrl: MasterClient['getHateoasUrl'] = async (options) =>
    (await this.client(options)).getHateoasUrl(options);
}

/** The API an auto client chose (undefined before its first answered call, or for a fixed client). */
export function probedMasterApi(client: MasterClient): 'json' | 'legacy' | undefined {
  if (client instanceof AutoMasterClient) return client.api;
  if (client instanceof LegacyMasterClient) return 'legacy';
  if (client instanceof JsonMasterClient) return 'json';
  return undefined;
}

/** Whether a value is a master client (a recipe context's `slap.master`). */
export function isMasterClient(value: unknown): value is MasterClient {
  return (
    value instanceof JsonMasterClient ||
    value instanceof LegacyMasterClient ||
    value instanceof AutoMasterClient
  );
}
