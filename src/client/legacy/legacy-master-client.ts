/**
 * The master client over the legacy SLAP protocol (docs/protocol.md §3, node.md Appendix A): every
 * MasterClient method with the original's calls, its answers converted to the JSON API shapes the
 * callers use, so that our node and CLI serve a master that only speaks the legacy API.
 *
 * Instances are named by the legacy `_instance_guid` (a shared instance by its `slave_reference`);
 * the calls about an instance name its partition, so the client keeps a map guid → (compute node,
 * partition[, slave reference]) filled by every answer. A guid it does not know is looked up in
 * getFullComputerInformation of `computerGuid` (the node the client acts for), else it is
 * SLAP_ERR_INSTANCE_NOT_FOUND. What the legacy API lacks (our extensions, registration, statuses)
 * answers as a master without them: undefined, or SLAP_ERR_NOT_FOUND naming the legacy API.
 */
import { createHash } from 'node:crypto';
import type { AllocationScope } from '../../core/allocation-scope.ts';
import { SlapError } from '../../core/errors.ts';
import type { FormatPartition } from '../../core/format-plan.ts';
import { sharedReference } from '../../core/instance-guid.ts';
import { decodeParameterXml } from '../../core/parameter-xml.ts';
import type { RequestedState, SoftwareInstallationReportedState } from '../../core/states.ts';
import {
  decodeMarshal,
  encodeMarshal,
  marshalOfJson,
  type MarshalDict,
  type MarshalValue,
} from '../../core/xml-marshaller.ts';
import type { CallOptions, MasterClient, MasterClientOptions } from '../master-client.ts';
import { lackingBackups, lackingInvoices } from '../master-errors.ts';
import { MasterHttp, type TlsMaterial } from '../master-http.ts';
import { stateMarker } from '../../lib/stable-digest.ts';
import type {
  ActionResult,
  BackupListEntry,
  BackupState,
  Certificate,
  ComputeNodeInstance,
  ComputeNodeStatus,
  ComputeNodeSummary,
  HostedSharedInstance,
  Instance,
  Invoice,
  InvoiceFilter,
  InstanceStatus,
  InvoiceEvidence,
  InstanceTreeSummary,
  NodeRevision,
  NodeSnapshot,
  PromiseResult,
  PromiseResults,
  RequestInstanceInput,
  SoftwareInstallation,
  SoftwareInstallationStatus,
  SupplyInput,
  TakeoverResult,
  WireRequest,
  WireResponse,
} from '../types.ts';
import {
  AnswerReader,
  badAnswer,
  instanceOfPartition,
  isBusy,
  processingTimestamp,
  readComputer,
  readPartition,
  type LegacyComputer,
  type LegacyPartition,
} from './legacy-shapes.ts';
import { LegacyTransport, type LegacyFields } from './legacy-transport.ts';

export interface LegacyMasterClientOptions extends MasterClientOptions {
  /** The compute node the client acts for (a node, an instance's partition): where unknown guids are looked up. */
  computerGuid?: string | undefined;
}

/** Where the legacy API names an instance. */
interface InstanceLocation {
  computerGuid: string;
  partitionId: string;
  /** A shared instance: its reference, the partition being its host's. */
  slaveReference?: string;
}

/** The software installation reports, by the state they report. */
const SOFTWARE_REPORTS: Readonly<Record<SoftwareInstallationReportedState, string>> = {
  building: '/buildingSoftwareRelease',
  available: '/availableSoftwareRelease',
  destroyed: '/destroyedSoftwareRelease',
};

const INSTANCE_REPORTS: Readonly<Record<RequestedState, string>> = {
  started: '/startedComputerPartition',
  stopped: '/stoppedComputerPartition',
  destroyed: '/destroyedComputerPartition',
};

/** The HATEOAS queries of slapproxy (protocol.md §5.5). */
const TREE_QUERY = 'portal_type:"Instance Tree" AND validation_state:validated';
const NODE_QUERY = 'portal_type:"Compute Node" AND validation_state:validated';

export class LegacyMasterClient implements MasterClient {
  private readonly transport: LegacyTransport;
  private readonly computerGuid: string | undefined;
  private readonly locations = new Map<string, InstanceLocation>();
  /** Root titles of the partitions seen, by `computer\npartition` (the tree a partition's requests join). */
  private readonly rootTitles = new Map<string, string>();
  /** Where the root instances seen are, by title (an instance tree is read again in one call). */
  private readonly roots = new Map<string, InstanceLocation>();

  /** `http`: an endpoint to share (the auto client's probe); by default the client's own. */
  constructor(options: LegacyMasterClientOptions, http: MasterHttp = new MasterHttp(options)) {
    this.transport = new LegacyTransport(http);
    this.computerGuid = options.computerGuid;
  }

  get masterUrl(): string {
    return this.transport.masterUrl;
  }

  close(): Promise<void> {
    return this.transport.http.close();
  }

  replaceTls(tls: TlsMaterial): void {
    this.transport.http.replaceTls(tls);
  }

  // --- people: instances and software installations ---

  async requestInstance(input: RequestInstanceInput, options?: CallOptions): Promise<Instance> {
    const text = await this.transport.post(
      '/requestComputerPartition',
      {
        software_release: input.softwareReleaseUri,
        software_type: input.softwareType ?? 'default',
        partition_reference: input.title,
        state: encodeMarshal(input.state ?? null),
        shared_xml: encodeMarshal(input.shared ?? false),
        partition_parameter_xml: encodeMarshal(marshalOfJson(input.parameters ?? {})),
        filter_xml: encodeMarshal(marshalOfJson(stringValues(input.slaParameters ?? {}))),
        computer_id: input.requester?.computerGuid,
        computer_partition_id: input.requester?.partitionId,
      },
      { ...options, notFoundCode: 'SLAP_ERR_ALLOCATION_FAILED' },
    );
    const reader = new AnswerReader(this.masterUrl, 'the request answer');
    const answer = reader.object(this.decode(text), 'the answer', 'SoftwareInstance', 'ComputerPartition');
    const attributes = answer.attributes;
    const computerGuid = reader.optionalString(attributes.slap_computer_id, 'slap_computer_id') ?? '';
    const partitionId =
      reader.optionalString(attributes.slap_computer_partition_id, 'slap_computer_partition_id') ?? '';
    const requesterRoot =
      input.requester === undefined
        ? input.title
        : (this.rootTitles.get(partitionKey(input.requester.computerGuid, input.requester.partitionId)) ??
          '');
    const parameters = reader.stringDict(attributes._parameter_dict, '_parameter_dict');
    const timestamp = parameters.timestamp ?? '';
    delete parameters.timestamp;
    const instance: Instance = {
      computer_guid: computerGuid,
      compute_partition_id: partitionId,
      instance_guid: '',
      title: input.title,
      root_instance_title: requesterRoot,
      state:
        attributes._requested_state === undefined
          ? (input.state ?? 'started')
          : reader.requestedState(attributes._requested_state, '_requested_state'),
      software_release_uri:
        reader.optionalString(attributes.slap_software_release_url, 'slap_software_release_url') ??
        input.softwareReleaseUri,
      software_type:
        reader.optionalString(attributes.slap_software_type, 'slap_software_type') ??
        input.softwareType ??
        'default',
      shared: input.shared ?? false,
      processing_timestamp: processingTimestamp(timestamp),
      access_status_message: reader.optionalString(attributes._access_status, '_access_status') ?? '',
      parameters,
      sla_parameters: input.slaParameters ?? {},
      connection_parameters: reader.stringDict(attributes._connection_dict, '_connection_dict'),
      ip_list: reader.addresses(attributes.ip_list, 'ip_list'),
      full_ip_list: reader.addresses(attributes.full_ip_list, 'full_ip_list'),
    };
    if (!instance.shared) {
      instance.instance_guid =
        reader.optionalString(attributes._instance_guid, '_instance_guid') ??
        `${computerGuid}-${partitionId}`;
      this.locations.set(instance.instance_guid, { computerGuid, partitionId });
      if (requesterRoot !== '') this.rootTitles.set(partitionKey(computerGuid, partitionId), requesterRoot);
      return instance;
    }
    // A shared instance's answer does not name it: its reference is in its host's list.
    instance.instance_guid = await this.sharedReferenceOf(
      { computerGuid, partitionId },
      { title: input.title, requestedBy: input.requester === undefined ? '' : requesterRoot },
      options,
    );
    return instance;
  }

  async getInstance(instanceGuid: string, options?: CallOptions): Promise<Instance> {
    const location = await this.locate(instanceGuid, options);
    const partition = await this.registerPartition(location.computerGuid, location.partitionId, options);
    if (location.slaveReference === undefined) {
      if (!isBusy(partition)) throw instanceNotFound(instanceGuid);
      return instanceOfPartition(partition);
    }
    const shared = partition.sharedInstances.find((item) => item.reference === location.slaveReference);
    if (shared === undefined) throw instanceNotFound(instanceGuid);
    return {
      ...instanceOfPartition(partition),
      instance_guid: shared.reference,
      title: shared.title,
      software_type: shared.softwareType,
      shared: true,
      parameters: shared.parameters,
      sla_parameters: {},
      connection_parameters: {},
    };
  }

  /**
   * The root of a tree: its HATEOAS document says what it is; the instance itself (its guid, its
   * partition) is then looked up in the computer information of the client's node, else of the
   * compute nodes HATEOAS lists (slapproxy lets a user read them; a SlapOS master gives only the
   * document, and the instance is then named as a shared one would be).
   */
  async getInstanceTree(title: string, options?: CallOptions): Promise<Instance> {
    const [item] = await this.hateoasSearch(`${TREE_QUERY} AND title:=${JSON.stringify(title)}`, options);
    if (item === undefined)
      throw new SlapError('SLAP_ERR_INSTANCE_TREE_NOT_FOUND', `No instance tree ${title} found.`);
    const relativeUrl = typeof item.relative_url === 'string' ? item.relative_url : '';
    if (!relativeUrl.startsWith('/hateoas/shared/')) {
      const partition = await this.findRoot(title, options);
      if (partition !== undefined) return instanceOfPartition(partition);
    }
    return this.treeDocument(title, relativeUrl, options);
  }

  /** The partition holding the root instance `title`, searched on the nodes the client can read. */
  private async findRoot(title: string, options?: CallOptions): Promise<LegacyPartition | undefined> {
    const isRoot = (partition: LegacyPartition): boolean =>
      isBusy(partition) && partition.title === title && partition.rootTitle === title;
    const seen = this.roots.get(title);
    if (seen !== undefined) {
      const partition = await this.registerPartition(seen.computerGuid, seen.partitionId, options).catch(
        (error: unknown) => {
          if (error instanceof SlapError && error.code === 'SLAP_ERR_PARTITION_NOT_FOUND') return undefined;
          throw error;
        },
      );
      if (partition !== undefined && isRoot(partition)) return partition;
      this.roots.delete(title);
    }
    const tried = new Set<string>();
    const search = async (computerGuid: string): Promise<LegacyPartition | undefined> => {
      if (tried.has(computerGuid)) return undefined;
      tried.add(computerGuid);
      try {
        return (await this.fullComputerInformation(computerGuid, options)).partitions.find(isRoot);
      } catch (error) {
        // A node the caller may not read (a SlapOS master's users): not this way.
        if (
          error instanceof SlapError &&
          error.code !== 'SLAP_ERR_UNAVAILABLE' &&
          error.code !== 'SLAP_ERR_TIMEOUT'
        )
          return undefined;
        throw error;
      }
    };
    if (this.computerGuid !== undefined) {
      const found = await search(this.computerGuid);
      if (found) return found;
    }
    for (const node of await this.listComputeNodes(options).catch(() => [])) {
      const found = await search(node.computer_guid);
      if (found) return found;
    }
    return undefined;
  }

  async listInstanceTrees(options?: CallOptions): Promise<InstanceTreeSummary[]> {
    const items = await this.hateoasSearch(TREE_QUERY, options);
    return items.flatMap((item) => (typeof item.title === 'string' ? [{ title: item.title }] : []));
  }

  async supply(input: SupplyInput, options?: CallOptions): Promise<ActionResult> {
    return success(
      await this.transport.post(
        '/supplySupply',
        { url: input.softwareReleaseUri, computer_id: input.computerGuid, state: input.state ?? 'available' },
        options,
      ),
    );
  }

  async renameInstance(
    input: { instanceGuid: string; title: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    const location = await this.locate(input.instanceGuid, options);
    return this.partitionAction(
      '/softwareInstanceRename',
      location,
      { new_name: input.title, slave_reference: location.slaveReference },
      options,
    );
  }

  // --- compute nodes ---

  async listComputeNodes(options?: CallOptions): Promise<ComputeNodeSummary[]> {
    const items = await this.hateoasSearch(NODE_QUERY, options);
    return items.flatMap((item) => {
      const guid = typeof item.reference === 'string' ? item.reference : item.title;
      return typeof guid === 'string' ? [{ computer_guid: guid }] : [];
    });
  }

  async listComputeNodeInstances(
    computerGuid: string,
    options?: CallOptions,
  ): Promise<ComputeNodeInstance[]> {
    const computer = await this.fullComputerInformation(computerGuid, options);
    return computer.partitions.filter(isBusy).map((partition) => ({
      instance_guid: partition.instanceGuid,
      title: partition.title,
      state: partition.requestedState,
      compute_partition_id: partition.partitionId,
      software_release_uri: partition.softwareReleaseUri ?? '',
    }));
  }

  async listSoftwareInstallations(
    computerGuid: string,
    options?: CallOptions,
  ): Promise<SoftwareInstallation[]> {
    const computer = await this.fullComputerInformation(computerGuid, options);
    return computer.software.map((item) => ({ software_release_uri: item.url, state: item.state }));
  }

  async getComputePartition(
    input: { computerGuid: string; partitionId: string },
    options?: CallOptions,
  ): Promise<Instance> {
    const partition = await this.registerPartition(input.computerGuid, input.partitionId, options);
    if (!isBusy(partition))
      throw new SlapError(
        'SLAP_ERR_PARTITION_NOT_FOUND',
        `No instance on partition ${input.partitionId} found.`,
      );
    return instanceOfPartition(partition);
  }

  async formatComputeNode(
    input: { computerGuid: string; partitions: readonly FormatPartition[] },
    options?: CallOptions,
  ): Promise<ActionResult> {
    const description: MarshalDict = {
      reference: input.computerGuid,
      partition_list: input.partitions.map((partition) => ({
        reference: partition.reference,
        // One interface per partition in the legacy description: its first address's.
        tap: { name: partition.addresses[0]?.networkInterface ?? partition.reference },
        address_list: partition.addresses.map((address) => ({
          addr: address.address,
          netmask: address.netmask ?? '',
        })),
      })),
    };
    return success(
      await this.transport.post(
        '/loadComputerConfigurationFromXML',
        { computer_id: input.computerGuid, xml: encodeMarshal(description) },
        options,
      ),
    );
  }

  async bangComputeNode(
    input: { computerGuid: string; message: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return success(
      await this.transport.post(
        '/computerBang',
        { computer_id: input.computerGuid, message: input.message },
        options,
      ),
    );
  }

  async reportComputeNodeUsage(
    input: { computerGuid: string; usageXml: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return success(
      await this.transport.post(
        '/useComputer',
        { computer_id: input.computerGuid, use_string: input.usageXml },
        options,
      ),
    );
  }

  getComputeNodeStatus(_computerGuid: string, _options?: CallOptions): Promise<ComputeNodeStatus> {
    return Promise.reject(lacking('compute node statuses'));
  }

  async createComputeNodeCertificate(computerGuid: string, options?: CallOptions): Promise<Certificate> {
    const text = await this.transport.post(
      '/generateComputerCertificate',
      { computer_id: computerGuid },
      options,
    );
    return this.certificateOf(text);
  }

  async revokeComputeNodeCertificate(computerGuid: string, options?: CallOptions): Promise<ActionResult> {
    return success(
      await this.transport.post('/revokeComputerCertificate', { computer_id: computerGuid }, options),
    );
  }

  createRegistrationToken(
    _input: { expiresInS?: number },
    _options?: CallOptions,
  ): Promise<WireResponse<'/slapos.post.ext.registration_token'>> {
    return Promise.reject(lacking('registration tokens'));
  }

  registerComputeNode(
    _input: { title: string; certificateRequest: string },
    _options?: CallOptions,
  ): Promise<{ computerGuid: string; certificate: string; caCertificate: string }> {
    return Promise.reject(lacking('compute node registration'));
  }

  renewComputeNodeCertificate(
    _input: { computerGuid: string; certificateRequest: string },
    _options?: CallOptions,
  ): Promise<{ certificate: string }> {
    return Promise.reject(lacking('certificate renewal'));
  }

  // --- the node agent: software installations ---

  async reportSoftwareInstallationState(
    input: { softwareReleaseUri: string; computerGuid: string; state: SoftwareInstallationReportedState },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return success(
      await this.transport.post(
        SOFTWARE_REPORTS[input.state],
        { url: input.softwareReleaseUri, computer_id: input.computerGuid },
        options,
      ),
    );
  }

  async reportSoftwareInstallationError(
    input: { softwareReleaseUri: string; computerGuid: string; message: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return success(
      await this.transport.post(
        '/softwareReleaseError',
        { url: input.softwareReleaseUri, computer_id: input.computerGuid, error_log: input.message },
        options,
      ),
    );
  }

  // --- the node agent and instances: instances ---

  async reportInstanceState(
    input: { instanceGuid: string; state: RequestedState },
    options?: CallOptions,
  ): Promise<ActionResult> {
    const location = await this.locate(input.instanceGuid, options);
    return this.partitionAction(INSTANCE_REPORTS[input.state], location, {}, options);
  }

  async reportInstanceError(
    input: { instanceGuid: string; message: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    const location = await this.locate(input.instanceGuid, options);
    return this.partitionAction(
      '/softwareInstanceError',
      location,
      { error_log: input.message, slave_reference: location.slaveReference },
      options,
    );
  }

  async setConnectionParameters(
    input: { instanceGuid: string; parameters: Record<string, unknown> },
    options?: CallOptions,
  ): Promise<ActionResult> {
    const location = await this.locate(input.instanceGuid, options);
    return this.partitionAction(
      '/setComputerPartitionConnectionXml',
      location,
      {
        connection_xml: encodeMarshal(marshalOfJson(input.parameters)),
        slave_reference: location.slaveReference,
      },
      options,
    );
  }

  async bang(input: { instanceGuid: string; message: string }, options?: CallOptions): Promise<ActionResult> {
    const location = await this.locate(input.instanceGuid, options);
    return this.partitionAction('/softwareInstanceBang', location, { message: input.message }, options);
  }

  async listHostedSharedInstances(
    instanceGuid: string,
    options?: CallOptions,
  ): Promise<HostedSharedInstance[]> {
    const location = await this.locate(instanceGuid, options);
    const partition = await this.registerPartition(location.computerGuid, location.partitionId, options);
    return partition.sharedInstances.map((shared) => ({
      instance_guid: shared.reference,
      title: shared.title,
      software_type: shared.softwareType,
      state: 'started',
      parameters: shared.parameters,
      compute_partition_id: partition.partitionId,
    }));
  }

  async getInstanceCertificate(instanceGuid: string, options?: CallOptions): Promise<Certificate> {
    const location = await this.locate(instanceGuid, options);
    const text = await this.transport.get(
      '/getComputerPartitionCertificate',
      { computer_id: location.computerGuid, computer_partition_id: location.partitionId },
      options,
    );
    return this.certificateOf(text);
  }

  // --- the node agent: what the node deploys ---

  /**
   * One getFullComputerInformation as the snapshot of our change stream: the partitions holding an
   * instance, each with its marker (its timestamp and a digest of what the node deploys, as the JSON
   * API's source), and as revision a digest of the whole answer (it moves with any change).
   */
  async readNodeSnapshot(computerGuid: string, options?: CallOptions): Promise<NodeSnapshot> {
    const { computer, text } = await this.fullComputerAnswer(computerGuid, options);
    return {
      computer_guid: computer.computerGuid,
      revision: createHash('sha256').update(text).digest().readUIntBE(0, 6),
      software_installation_list: computer.software.map((item) => ({
        software_release_uri: item.url,
        state: item.state,
      })),
      compute_partition_list: computer.partitions.filter(isBusy).map((partition) => {
        const instance = instanceOfPartition(partition);
        return {
          compute_partition_id: partition.partitionId,
          instance_guid: partition.instanceGuid,
          title: partition.title,
          root_instance_title: partition.rootTitle,
          state: partition.requestedState,
          software_release_uri: instance.software_release_uri,
          software_type: partition.softwareType,
          parameters: partition.parameters,
          sla_parameters: partition.slaParameters,
          connection_parameters: partition.connectionParameters,
          ip_list: partition.ipList,
          timestamp: partition.timestamp,
          processing_timestamp: instance.processing_timestamp,
          // What the node deploys (not what the instance publishes: its own publication is no change).
          marker: stateMarker(partition.timestamp, [
            partition.requestedState,
            instance.software_release_uri,
            partition.softwareType,
            partition.title,
            partition.parameters,
            partition.ipList,
            partition.slaParameters,
            partition.sharedInstances.map((shared) => [
              shared.reference,
              shared.softwareType,
              shared.parameters,
            ]),
          ]),
          shared_instance_list: partition.sharedInstances.map((shared) => ({
            title: shared.title,
            instance_guid: shared.reference,
            software_type: shared.softwareType,
            parameters: shared.parameters,
            connection_parameters: {},
          })),
        };
      }),
    };
  }

  /** The legacy API has no change stream: SLAP_ERR_NOT_FOUND (the agent then polls). */
  watchComputeNode(
    _input: { computerGuid: string; afterRevision: number; timeoutMs: number },
    _options?: CallOptions,
  ): Promise<NodeRevision> {
    return Promise.reject(lacking('the change stream'));
  }

  // --- what the legacy API does not have: as a master without our extensions ---

  get supportsPromiseResults(): boolean {
    return false;
  }

  reportPromiseResults(
    _input: { instanceGuid: string; results: readonly PromiseResult[] },
    _options?: CallOptions,
  ): Promise<ActionResult | undefined> {
    return Promise.resolve(undefined);
  }

  getPromiseResults(_instanceGuid: string, _options?: CallOptions): Promise<PromiseResults | undefined> {
    return Promise.resolve(undefined);
  }

  getInstanceStatus(_instanceGuid: string, _options?: CallOptions): Promise<InstanceStatus | undefined> {
    return Promise.resolve(undefined);
  }

  listSoftwareInstallationStatuses(
    _computerGuid: string,
    _options?: CallOptions,
  ): Promise<SoftwareInstallationStatus[] | undefined> {
    return Promise.resolve(undefined);
  }

  updateComputeNodeAccess(
    _computerGuid: string,
    _access: { allocationScope?: AllocationScope; friends?: string[] },
    _options?: CallOptions,
  ): Promise<void> {
    return Promise.reject(lacking('allocation scopes'));
  }

  getInvoiceEvidence(_invoiceId: string, _options?: CallOptions): Promise<InvoiceEvidence> {
    return Promise.reject(lacking('invoice evidence'));
  }

  listInvoices(_filter?: InvoiceFilter, _options?: CallOptions): Promise<Invoice[]> {
    return Promise.reject(lackingInvoices(this.masterUrl));
  }

  getInvoice(_invoiceId: string, _options?: CallOptions): Promise<Invoice> {
    return Promise.reject(lackingInvoices(this.masterUrl));
  }

  takeOverInstanceTree(
    _input: { title: string; clone?: string },
    _options?: CallOptions,
  ): Promise<TakeoverResult> {
    return Promise.reject(lackingBackups(this.masterUrl));
  }

  syncBackups(
    _body: WireRequest<'/slapos.post.ext.backup_sync'>,
    _options?: CallOptions,
  ): Promise<WireResponse<'/slapos.post.ext.backup_sync'>> {
    return Promise.reject(lackingBackups(this.masterUrl));
  }

  requestBackup(_title: string, _options?: CallOptions): Promise<{ requestedAt: number }> {
    return Promise.reject(lackingBackups(this.masterUrl));
  }

  listBackups(_title: string, _options?: CallOptions): Promise<BackupListEntry[]> {
    return Promise.reject(lackingBackups(this.masterUrl));
  }

  getBackupState(_title: string, _options?: CallOptions): Promise<BackupState> {
    return Promise.reject(lackingBackups(this.masterUrl));
  }

  requestRestore(
    _input: { title: string; backupId?: string; into?: string },
    _options?: CallOptions,
  ): Promise<{ requestId: string }> {
    return Promise.reject(lackingBackups(this.masterUrl));
  }

  /** The master's `getHateoasUrl`, else (slapproxy has none) `<master>/hateoas`. */
  async getHateoasUrl(options?: CallOptions): Promise<string> {
    try {
      const text = await this.transport.get('/getHateoasUrl', {}, options);
      return text.trim();
    } catch (error) {
      if (error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND')
        return `${this.masterUrl}/hateoas`;
      throw error;
    }
  }

  // --- helpers ---

  private decode(text: string): MarshalValue {
    try {
      return decodeMarshal(text);
    } catch (error) {
      throw badAnswer(`a document that is not marshalled XML (${(error as Error).message})`, this.masterUrl);
    }
  }

  private async fullComputerAnswer(
    computerGuid: string,
    options?: CallOptions,
  ): Promise<{ computer: LegacyComputer; text: string }> {
    // An unknown compute node is a 404: not "no such API" (the agent must not take it for one).
    const text = await this.transport.get(
      '/getFullComputerInformation',
      { computer_id: computerGuid },
      { ...options, notFoundCode: 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND' },
    );
    const computer = readComputer(
      new AnswerReader(this.masterUrl, 'the computer information'),
      this.decode(text),
    );
    for (const partition of computer.partitions) this.remember(partition);
    return { computer, text };
  }

  private async fullComputerInformation(
    computerGuid: string,
    options?: CallOptions,
  ): Promise<LegacyComputer> {
    return (await this.fullComputerAnswer(computerGuid, options)).computer;
  }

  private async registerPartition(
    computerGuid: string,
    partitionId: string,
    options?: CallOptions,
  ): Promise<LegacyPartition> {
    const text = await this.transport.get(
      '/registerComputerPartition',
      { computer_reference: computerGuid, computer_partition_reference: partitionId },
      { ...options, notFoundCode: 'SLAP_ERR_PARTITION_NOT_FOUND' },
    );
    const partition = readPartition(
      new AnswerReader(this.masterUrl, 'the partition information'),
      this.decode(text),
      'the answer',
    );
    this.remember(partition);
    return partition;
  }

  /** Fills the guid map and the root titles from a partition the master described. */
  private remember(partition: LegacyPartition): void {
    const at = { computerGuid: partition.computerGuid, partitionId: partition.partitionId };
    if (isBusy(partition)) {
      this.locations.set(partition.instanceGuid, at);
      this.rootTitles.set(partitionKey(at.computerGuid, at.partitionId), partition.rootTitle);
      if (partition.title === partition.rootTitle) this.roots.set(partition.title, at);
    }
    for (const shared of partition.sharedInstances)
      this.locations.set(shared.reference, { ...at, slaveReference: shared.reference });
  }

  /** Where an instance is: from the map, else from the node's computer information. */
  private async locate(instanceGuid: string, options?: CallOptions): Promise<InstanceLocation> {
    let location = this.locations.get(instanceGuid);
    if (location === undefined && this.computerGuid !== undefined) {
      await this.fullComputerInformation(this.computerGuid, options);
      location = this.locations.get(instanceGuid);
    }
    if (location === undefined) throw instanceNotFound(instanceGuid);
    return location;
  }

  /** A call about a partition; the legacy API's 200 answers that are refusals become errors. */
  private async partitionAction(
    path: string,
    location: InstanceLocation,
    fields: LegacyFields,
    options?: CallOptions,
  ): Promise<ActionResult> {
    const text = await this.transport.post(
      path,
      { computer_id: location.computerGuid, computer_partition_id: location.partitionId, ...fields },
      options,
    );
    if (text.startsWith('Not destroying yet because this partition has child partitions: '))
      throw new SlapError('SLAP_ERR_HAS_CHILDREN', text, { status: 200 });
    if (/^Unknown partition '.*' on '.*'$/s.test(text))
      throw new SlapError('SLAP_ERR_INSTANCE_NOT_FOUND', text, { status: 200 });
    return success(text);
  }

  /** The reference of a shared instance just requested: from its host's list, else as slapproxy names it. */
  private async sharedReferenceOf(
    host: { computerGuid: string; partitionId: string },
    identity: { title: string; requestedBy: string },
    options?: CallOptions,
  ): Promise<string> {
    const fallback = sharedReference(identity);
    if (host.computerGuid === '' || host.partitionId === '') return fallback;
    const partition = await this.registerPartition(host.computerGuid, host.partitionId, options);
    const entry =
      partition.sharedInstances.find((shared) => shared.reference === fallback) ??
      partition.sharedInstances.find((shared) => shared.title === identity.title);
    return entry?.reference ?? fallback;
  }

  /** An instance tree from its HATEOAS document alone (a shared root, or a node the caller cannot read). */
  private async treeDocument(title: string, relativeUrl: string, options?: CallOptions): Promise<Instance> {
    if (!relativeUrl.startsWith('/'))
      throw badAnswer('an instance tree without a relative_url', this.masterUrl);
    const view = await this.hateoasGet(relativeUrl, {}, options);
    const field = (name: string): unknown => {
      const embedded = (view._embedded as Record<string, unknown> | undefined)?._view;
      const entry = (embedded as Record<string, unknown> | undefined)?.[`my_${name}`];
      return (entry as Record<string, unknown> | undefined)?.default;
    };
    const text = (name: string): string => {
      const value = field(name);
      return typeof value === 'string' ? value : '';
    };
    const parameters = (name: string): Record<string, string | null> => {
      try {
        return { ...decodeParameterXml(text(name)) };
      } catch {
        throw badAnswer(`an instance tree whose ${name} is not parameter XML`, this.masterUrl);
      }
    };
    const shared = field('root_slave') === 1 || text('slap_state') === 'unused';
    const state = text('slap_state');
    return {
      computer_guid: '',
      compute_partition_id: '',
      instance_guid: sharedReference({ title, requestedBy: '' }),
      title,
      root_instance_title: title,
      state: state === 'stopped' || state === 'destroyed' ? state : 'started',
      software_release_uri: text('url_string'),
      software_type: text('source_reference'),
      shared,
      processing_timestamp: 0,
      access_status_message: '',
      parameters: parameters('text_content'),
      sla_parameters: {},
      connection_parameters: parameters('connection_parameter_list'),
      ip_list: [],
      full_ip_list: [],
    };
  }

  private async hateoasSearch(query: string, options?: CallOptions): Promise<Record<string, unknown>[]> {
    const answer = await this.hateoasGet(
      '/hateoas/',
      { mode: 'search', query, select_list: 'title,relative_url' },
      options,
    );
    const contents = (answer._embedded as Record<string, unknown> | undefined)?.contents;
    if (!Array.isArray(contents))
      throw badAnswer('a HATEOAS search without _embedded.contents', this.masterUrl);
    return contents.filter(
      (item): item is Record<string, unknown> =>
        item !== null && typeof item === 'object' && !Array.isArray(item),
    );
  }

  private async hateoasGet(
    path: string,
    fields: LegacyFields,
    options?: CallOptions,
  ): Promise<Record<string, unknown>> {
    const text = await this.transport.get(path, fields, options);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw badAnswer(`a HATEOAS answer to ${path} that is not JSON`, this.masterUrl);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw badAnswer(`a HATEOAS answer to ${path} that is not an object`, this.masterUrl);
    return value as Record<string, unknown>;
  }

  private certificateOf(text: string): Certificate {
    const reader = new AnswerReader(this.masterUrl, 'the certificate');
    const dict = reader.dict(this.decode(text), 'the answer');
    return {
      certificate: reader.optionalString(dict.certificate, 'certificate') ?? '',
      key: reader.optionalString(dict.key, 'key') ?? '',
    };
  }
}

function partitionKey(computerGuid: string, partitionId: string): string {
  return `${computerGuid}\n${partitionId}`;
}

/** SLA values are strings in the legacy API's filter (numbers as Python prints them). */
function stringValues(values: Readonly<Record<string, string | number>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, String(value)]));
}

/** The legacy API's plain-text success answers (`done`, `OK`, `Ignored`, marshalled ''…) as an action result. */
function success(text: string): ActionResult {
  const title = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return { type: 'success', title: title === '' ? 'done' : title };
}

function instanceNotFound(instanceGuid: string): SlapError {
  return new SlapError('SLAP_ERR_INSTANCE_NOT_FOUND', `No software instance ${instanceGuid} found.`);
}

/** What a master without our extensions answers: not found, saying why. */
function lacking(what: string): SlapError {
  return new SlapError('SLAP_ERR_NOT_FOUND', `the legacy SLAP API has no ${what}`, {
    hint: 'this needs a master with the JSON API (master_api = json or auto)',
  });
}
