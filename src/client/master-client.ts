/**
 * The typed master client: the only way the CLI and the node agent reach a master. Its methods are
 * named after what they do in SlapOS terms (request an instance, supply a software release, report a
 * state, bang, format a compute node, …); the mapping to the JSON API v0 paths lives here, and the
 * legacy SLAP protocol's client (legacy/) sits behind the same methods.
 *
 * One client holds one connection pool (node:http(s) keep-alive agent): create it once, share it, and
 * `close()` it at the end. Every method takes `{signal, timeoutMs}` and fails only with SlapErrors
 * (or, when the caller aborts, with the signal's reason).
 */
import type { AllocationScope } from '../core/allocation-scope.ts';
import { SlapError } from '../core/errors.ts';
import type { FormatPartition } from '../core/format-plan.ts';
import type { RequestedState, SoftwareInstallationReportedState } from '../core/states.ts';
import type { Logger } from '../lib/logger.ts';
import { codeForApiError, lackingBackups, lackingInvoices, NOT_READY_HINT } from './master-errors.ts';
import {
  JsonTransport,
  type CallOptions,
  type JsonTransportOptions,
  type TlsMaterial,
} from './json-transport.ts';
import type { MasterHttp } from './master-http.ts';
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
  InstanceTreeSummary,
  Invoice,
  InvoiceFilter,
  NodeRevision,
  NodeSnapshot,
  InstanceStatus,
  InvoiceEvidence,
  PromiseResult,
  PromiseResults,
  SoftwareInstallationStatus,
  RequestInstanceInput,
  SoftwareInstallation,
  SupplyInput,
  TakeoverResult,
  WireRequest,
  WireResponse,
} from './types.ts';
import { MAX_WATCH_TIMEOUT_MS, REQUESTER_COMPUTER_HEADER, REQUESTER_PARTITION_HEADER } from '../api/index.ts';

export type MasterClientOptions = JsonTransportOptions;

export type { CallOptions } from './json-transport.ts';

/**
 * What every master client offers, whatever it speaks (the JSON API here, the legacy SLAP protocol in
 * legacy/legacy-master-client.ts): consumers type against it and get one from createMasterClient
 * (master-api.ts).
 */
export type MasterClient = Pick<JsonMasterClient, keyof JsonMasterClient>;

export class JsonMasterClient {
  private readonly transport: JsonTransport;
  private readonly logger: Logger | undefined;
  /** The master answered 404 to the promise results extension: it does not have it (a SlapOS master). */
  private promiseResultsUnsupported = false;

  /** `http`: an endpoint to share (the auto client's probe); by default the client's own. */
  constructor(options: MasterClientOptions, http?: MasterHttp) {
    this.transport = new JsonTransport(options, http);
    this.logger = options.logger;
  }

  /** The master URL, normalised (no trailing slash). */
  get masterUrl(): string {
    return this.transport.masterUrl;
  }

  /** Closes the connection pool. Idempotent; calls made afterwards fail. */
  close(): Promise<void> {
    return this.transport.close();
  }

  // --- people: instances and software installations ---

  /** Requests (creates, updates, stops or destroys) an instance or a shared instance. */
  async requestInstance(input: RequestInstanceInput, options?: CallOptions): Promise<Instance> {
    const body: WireRequest<'/slapos.post.v0.software_instance'> = {
      title: input.title,
      software_release_uri: input.softwareReleaseUri,
      software_type: input.softwareType ?? 'default',
    };
    if (input.parameters !== undefined) body.parameters = input.parameters;
    if (input.shared !== undefined) body.shared = input.shared;
    if (input.state !== undefined) body.state = input.state;
    if (input.slaParameters !== undefined) {
      // The contract types `retention_delay` as a number and every other key as a string.
      body.sla_parameters = input.slaParameters as NonNullable<
        WireRequest<'/slapos.post.v0.software_instance'>['sla_parameters']
      >;
    }
    const callOptions: CallOptions =
      input.requester === undefined
        ? (options ?? {})
        : {
            ...options,
            headers: {
              ...options?.headers,
              [REQUESTER_COMPUTER_HEADER]: input.requester.computerGuid,
              [REQUESTER_PARTITION_HEADER]: input.requester.partitionId,
            },
          };
    return asInstance(await this.transport.post('/slapos.post.v0.software_instance', body, callOptions));
  }

  /** The instance with this guid (JSON API form `title___root___0|1`). */
  async getInstance(instanceGuid: string, options?: CallOptions): Promise<Instance> {
    return this.transport.post('/slapos.get.v0.software_instance', { instance_guid: instanceGuid }, options);
  }

  /** The root instance of the instance tree with this title. */
  async getInstanceTree(title: string, options?: CallOptions): Promise<Instance> {
    return asInstance(await this.transport.post('/slapos.get.v0.instance_tree', { title }, options));
  }

  /** The titles of the instance trees (the caller's services). */
  async listInstanceTrees(options?: CallOptions): Promise<InstanceTreeSummary[]> {
    const answer = await this.transport.post('/slapos.allDocs.v0.instance_tree_list', {}, options);
    return answer.result_list;
  }

  /** Asks a compute node to install (`available`, the default) or remove (`destroyed`) a software release. */
  supply(input: SupplyInput, options?: CallOptions): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.post.v0.software_installation',
      {
        software_release_uri: input.softwareReleaseUri,
        computer_guid: input.computerGuid,
        state: input.state ?? 'available',
      },
      options,
    );
  }

  /** Renames an instance (dangerous: its children are not re-pointed). */
  renameInstance(
    input: { instanceGuid: string; title: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.software_instance_title',
      { instance_guid: input.instanceGuid, title: input.title },
      options,
    );
  }

  // --- compute nodes ---

  /** The compute nodes the caller can see (experimental API). */
  async listComputeNodes(options?: CallOptions): Promise<ComputeNodeSummary[]> {
    const answer = await this.transport.post('/slapos.allDocs.WIP.compute_node_list', {}, options);
    return answer.result_list;
  }

  /** The instances allocated on a compute node's partitions. */
  async listComputeNodeInstances(
    computerGuid: string,
    options?: CallOptions,
  ): Promise<ComputeNodeInstance[]> {
    const answer = await this.transport.post(
      '/slapos.allDocs.v0.compute_node_instance_list',
      { computer_guid: computerGuid },
      options,
    );
    return answer.result_list;
  }

  /** The software installations requested on a compute node (`available` or `destroyed`). */
  async listSoftwareInstallations(
    computerGuid: string,
    options?: CallOptions,
  ): Promise<SoftwareInstallation[]> {
    const answer = await this.transport.post(
      '/slapos.allDocs.v0.compute_node_software_installation_list',
      { computer_guid: computerGuid },
      options,
    );
    return answer.result_list;
  }

  /** The instance allocated on a partition of a compute node. */
  async getComputePartition(
    input: { computerGuid: string; partitionId: string },
    options?: CallOptions,
  ): Promise<Instance> {
    return this.transport.post(
      '/slapos.get.v0.compute_partition',
      { computer_guid: input.computerGuid, compute_partition_id: input.partitionId },
      options,
    );
  }

  /** Registers a compute node's partitions and their addresses (what `slapos node format` sends). */
  formatComputeNode(
    input: { computerGuid: string; partitions: readonly FormatPartition[] },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.compute_node_format',
      {
        computer_guid: input.computerGuid,
        compute_partition_list: input.partitions.map((partition) => ({
          partition_id: partition.reference,
          ip_list: partition.addresses.map((address) => ({
            'ip-address': address.address,
            'network-interface': address.networkInterface,
            ...(address.netmask === null ? {} : { netmask: address.netmask }),
          })),
        })),
      },
      options,
    );
  }

  /** Asks the master to reprocess every instance of a compute node. */
  bangComputeNode(
    input: { computerGuid: string; message: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.compute_node_bang',
      { computer_guid: input.computerGuid, message: input.message },
      options,
    );
  }

  /** Sends a compute node's usage report (the TioXML of `computer_consumption.xsd`). */
  reportComputeNodeUsage(
    input: { computerGuid: string; usageXml: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.post.v0.compute_node_usage',
      { computer_guid: input.computerGuid, tioxml: input.usageXml },
      options,
    );
  }

  getComputeNodeStatus(computerGuid: string, options?: CallOptions): Promise<ComputeNodeStatus> {
    return this.transport.post(
      '/slapos.get.v0.compute_node_status',
      { computer_guid: computerGuid },
      options,
    );
  }

  createComputeNodeCertificate(computerGuid: string, options?: CallOptions): Promise<Certificate> {
    return this.transport.post(
      '/slapos.post.v0.compute_node_certificate',
      { computer_guid: computerGuid },
      options,
    );
  }

  revokeComputeNodeCertificate(computerGuid: string, options?: CallOptions): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.remove.v0.compute_node_certificate',
      { computer_guid: computerGuid },
      options,
    );
  }

  // --- master mode: registration tokens, node registration, node certificates (our extension) ---

  /** A one-time token with which a compute node registers itself as the caller's (expires after `expiresInS`). */
  createRegistrationToken(
    input: { expiresInS?: number },
    options?: CallOptions,
  ): Promise<WireResponse<'/slapos.post.ext.registration_token'>> {
    return this.transport.post(
      '/slapos.post.ext.registration_token',
      input.expiresInS === undefined ? {} : { expires_in_s: input.expiresInS },
      options,
    );
  }

  /**
   * Registers a compute node (the client holds the registration token as its access token): the
   * master assigns its id and signs the certificate request.
   */
  async registerComputeNode(
    input: { title: string; certificateRequest: string },
    options?: CallOptions,
  ): Promise<{ computerGuid: string; certificate: string; caCertificate: string }> {
    const answer = await this.transport.post(
      '/slapos.post.ext.compute_node_registration',
      { title: input.title, certificate_request: input.certificateRequest },
      options,
    );
    return {
      computerGuid: answer.computer_guid,
      certificate: answer.certificate,
      caCertificate: answer.ca_certificate,
    };
  }

  /** A new certificate for the calling compute node (over mutual TLS with its current one). */
  async renewComputeNodeCertificate(
    input: { computerGuid: string; certificateRequest: string },
    options?: CallOptions,
  ): Promise<{ certificate: string }> {
    const answer = await this.transport.post(
      '/slapos.post.ext.compute_node_certificate_renewal',
      { computer_guid: input.computerGuid, certificate_request: input.certificateRequest },
      options,
    );
    return { certificate: answer.certificate };
  }

  /** Uses this TLS material (a renewed certificate and key) for the next calls. */
  replaceTls(tls: TlsMaterial): void {
    this.transport.replaceTls(tls);
  }

  // --- the node agent: software installations ---

  /** Reports a software installation as `building`, `available` or `destroyed`. */
  reportSoftwareInstallationState(
    input: { softwareReleaseUri: string; computerGuid: string; state: SoftwareInstallationReportedState },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.software_installation_reported_state',
      {
        software_release_uri: input.softwareReleaseUri,
        computer_guid: input.computerGuid,
        reported_state: input.state,
      },
      options,
    );
  }

  /** Reports that building a software release failed (with the log tail as message). */
  reportSoftwareInstallationError(
    input: { softwareReleaseUri: string; computerGuid: string; message: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.software_installation_error',
      {
        software_release_uri: input.softwareReleaseUri,
        computer_guid: input.computerGuid,
        message: input.message,
      },
      options,
    );
  }

  // --- the node agent and instances: instances ---

  /** Reports an instance as `started`, `stopped` or `destroyed` (which frees its partition). */
  reportInstanceState(
    input: { instanceGuid: string; state: RequestedState },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.software_instance_reported_state',
      { instance_guid: input.instanceGuid, reported_state: input.state },
      options,
    );
  }

  /** Reports that deploying an instance failed (with the log tail as message). */
  reportInstanceError(
    input: { instanceGuid: string; message: string },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.software_instance_error',
      { instance_guid: input.instanceGuid, message: input.message },
      options,
    );
  }

  /** Publishes an instance's connection parameters (replacing the previous ones). */
  setConnectionParameters(
    input: { instanceGuid: string; parameters: Record<string, unknown> },
    options?: CallOptions,
  ): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.software_instance_connection_parameter',
      { instance_guid: input.instanceGuid, connection_parameter_dict: input.parameters },
      options,
    );
  }

  /** "Something is wrong, reprocess": bangs the instance (and, for a root, its tree). */
  bang(input: { instanceGuid: string; message: string }, options?: CallOptions): Promise<ActionResult> {
    return this.transport.post(
      '/slapos.put.v0.software_instance_bang',
      { instance_guid: input.instanceGuid, message: input.message },
      options,
    );
  }

  /** The shared instances hosted by an instance. */
  async listHostedSharedInstances(
    instanceGuid: string,
    options?: CallOptions,
  ): Promise<HostedSharedInstance[]> {
    const answer = await this.transport.post(
      '/slapos.allDocs.v0.instance_node_instance_list',
      { instance_guid: instanceGuid },
      options,
    );
    return answer.result_list;
  }

  getInstanceCertificate(instanceGuid: string, options?: CallOptions): Promise<Certificate> {
    return this.transport.post(
      '/slapos.get.v0.software_instance_certificate',
      { instance_guid: instanceGuid },
      options,
    );
  }

  // --- the node agent: the change stream (our extension, slapos-extensions.json) ---

  /**
   * Everything one node pass needs, in one call: software installations, instances with their
   * parameters, addresses, shared instances and change markers, and the node's revision. A master
   * without our extensions answers 404 (SLAP_ERR_NOT_FOUND).
   */
  readNodeSnapshot(computerGuid: string, options?: CallOptions): Promise<NodeSnapshot> {
    return this.transport.post(
      '/slapos.get.ext.compute_node_snapshot',
      { computer_guid: computerGuid },
      options,
    );
  }

  /**
   * Long poll: answers as soon as the node's revision is above `afterRevision`, else after
   * `timeoutMs` (at most 50 s) with `changed: false`. The call's own deadline is that wait plus
   * `options.timeoutMs` (default 10 s) for the network.
   */
  watchComputeNode(
    input: { computerGuid: string; afterRevision: number; timeoutMs: number },
    options: CallOptions = {},
  ): Promise<NodeRevision> {
    const waitMs = Math.min(Math.max(Math.trunc(input.timeoutMs), 0), MAX_WATCH_TIMEOUT_MS);
    return this.transport.post(
      '/slapos.watch.ext.compute_node_revision',
      { computer_guid: input.computerGuid, after_revision: input.afterRevision, timeout_ms: waitMs },
      { ...options, timeoutMs: waitMs + (options.timeoutMs ?? 10_000) },
    );
  }

  // --- the node agent: promise results (our extension, slapos-extensions.json) ---

  /** Whether this master is known not to have the promise results extension (it answered 404 once). */
  get supportsPromiseResults(): boolean {
    return !this.promiseResultsUnsupported;
  }

  /**
   * Reports the latest results of the promises of an instance's partition (at most 200; names up to 255
   * characters, messages up to 4096), replacing the previous list. Resolves undefined, without calling
   * again, once the master answered 404 (a master without our extensions).
   */
  reportPromiseResults(
    input: { instanceGuid: string; results: readonly PromiseResult[] },
    options?: CallOptions,
  ): Promise<ActionResult | undefined> {
    return this.promiseResultsCall(() =>
      this.transport.post(
        '/slapos.put.ext.software_instance_promise_result',
        { instance_guid: input.instanceGuid, result_list: [...input.results] },
        options,
      ),
    );
  }

  /**
   * The promise results last reported for an instance (an empty list and a null `reported_at` when none
   * were); undefined when the master does not have the extension (404, then remembered).
   */
  getPromiseResults(instanceGuid: string, options?: CallOptions): Promise<PromiseResults | undefined> {
    return this.promiseResultsCall(() =>
      this.transport.post(
        '/slapos.get.ext.software_instance_promise_result',
        { instance_guid: instanceGuid },
        options,
      ),
    );
  }

  private async promiseResultsCall<T>(call: () => Promise<T>): Promise<T | undefined> {
    if (this.promiseResultsUnsupported) return undefined;
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND')) throw error;
      this.promiseResultsUnsupported = true;
      this.logger?.debug(
        { masterUrl: this.masterUrl },
        'the master does not know promise results (404): not sending them any more',
      );
      return undefined;
    }
  }

  // --- the client: what the nodes reported (our extension, slapos-extensions.json) ---

  /**
   * What the node has made of an instance (status, its error, the software release it waits for);
   * undefined when the master does not have the extension (404).
   */
  getInstanceStatus(instanceGuid: string, options?: CallOptions): Promise<InstanceStatus | undefined> {
    return withoutExtension(
      this.transport.post(
        '/slapos.get.ext.software_instance_status',
        { instance_guid: instanceGuid },
        options,
      ),
    );
  }

  /**
   * The software installations of a compute node with what the node reported building them;
   * undefined when the master does not have the extension (404).
   */
  async listSoftwareInstallationStatuses(
    computerGuid: string,
    options?: CallOptions,
  ): Promise<SoftwareInstallationStatus[] | undefined> {
    const answer = await withoutExtension(
      this.transport.post(
        '/slapos.get.ext.compute_node_software_installation_status',
        { computer_guid: computerGuid },
        options,
      ),
    );
    return answer?.result_list;
  }

  /**
   * Sets a compute node's allocation scope and, when `friends` is given, its friends (as a whole).
   * Master mode; a SlapOS master does not have this extension (404).
   */
  async updateComputeNodeAccess(
    computerGuid: string,
    access: { allocationScope?: AllocationScope; friends?: string[] },
    options?: CallOptions,
  ): Promise<void> {
    await this.transport.post(
      '/slapos.put.ext.compute_node_allocation_scope',
      {
        computer_guid: computerGuid,
        ...(access.allocationScope !== undefined ? { allocation_scope: access.allocationScope } : {}),
        ...(access.friends !== undefined ? { friend_list: access.friends } : {}),
      },
      options,
    );
  }

  // --- the client: invoicing (our extension, slapos-extensions.json) ---

  /**
   * What lets the caller check an invoice without trusting the master: the invoice, its price
   * lists, the allocation history and the sealed usage journals (core/invoice-verification.ts).
   */
  getInvoiceEvidence(invoiceId: string, options?: CallOptions): Promise<InvoiceEvidence> {
    return this.transport.post('/slapos.get.ext.invoice_evidence', { invoice_id: invoiceId }, options);
  }

  /** The caller's invoices and credit notes (an admin's: everyone's), optionally of a period or in a state. */
  async listInvoices(filter: InvoiceFilter = {}, options?: CallOptions): Promise<Invoice[]> {
    const answer = await invoiceCall(
      this.transport.post('/slapos.allDocs.ext.invoice_list', filter, options),
      this.masterUrl,
    );
    return answer.result_list;
  }

  /** One invoice or credit note; SLAP_ERR_INVOICE_NOT_FOUND when unknown or someone else's. */
  getInvoice(invoiceId: string, options?: CallOptions): Promise<Invoice> {
    return invoiceCall(
      this.transport.post('/slapos.get.ext.invoice', { invoice_id: invoiceId }, options),
      this.masterUrl,
    );
  }

  // --- the client: backups and takeover of instance trees (our extension, docs/resiliency.md) ---

  /**
   * Promotes a clone of a resilient instance tree to main now: `clone` (its title), or the most
   * up-to-date live clone. SLAP_ERR_CONFLICT (409) when none can take over, with the master's reason.
   */
  takeOverInstanceTree(
    input: { title: string; clone?: string | undefined },
    options?: CallOptions,
  ): Promise<TakeoverResult> {
    return routeCall(
      this.transport.post(
        '/slapos.post.ext.instance_takeover',
        { title: input.title, clone: input.clone ?? null },
        options,
      ),
      this.masterUrl,
    );
  }

  /** Asks the main's node to back the tree up now; answers when the master stored the request (seconds). */
  async requestBackup(title: string, options?: CallOptions): Promise<{ requestedAt: number }> {
    const answer = await routeCall(
      this.transport.post('/slapos.post.ext.instance_backup', { title }, options),
      this.masterUrl,
    );
    return { requestedAt: answer.requested_at };
  }

  /** The backups the tree's nodes report holding, newest first. */
  async listBackups(title: string, options?: CallOptions): Promise<BackupListEntry[]> {
    return (await this.getBackupState(title, options)).backups;
  }

  /** The backups the tree's nodes report holding, newest first, and the tree's last restore. */
  async getBackupState(title: string, options?: CallOptions): Promise<BackupState> {
    const answer = await routeCall(
      this.transport.post('/slapos.get.ext.instance_backup_list', { title }, options),
      this.masterUrl,
    );
    return { backups: answer.backup_list, restore: answer.restore };
  }

  /**
   * Asks the node of a tree to restore a backup of the tree `title` (default: the latest) in place:
   * into the tree itself, or into the tree `into` (the master requests it like `title` when it does
   * not exist). The outcome is the restore status of the tree restored into (getBackupState).
   */
  async requestRestore(
    input: { title: string; backupId?: string | undefined; into?: string | undefined },
    options?: CallOptions,
  ): Promise<{ requestId: string }> {
    const answer = await routeCall(
      this.transport.post(
        '/slapos.post.ext.instance_restore',
        {
          title: input.title,
          backup_id: input.backupId ?? null,
          ...(input.into === undefined ? {} : { into: input.into }),
        },
        options,
      ),
      this.masterUrl,
    );
    return { requestId: answer.request_id };
  }

  /**
   * The node's backup heartbeat (the node's backup agent, src/node/backup/agent.ts): what its
   * partitions backed up, restored and hold; the answer gives each partition's role in its tree.
   * A master without the route answers 404 (SLAP_ERR_NOT_FOUND).
   */
  syncBackups(
    body: WireRequest<'/slapos.post.ext.backup_sync'>,
    options?: CallOptions,
  ): Promise<WireResponse<'/slapos.post.ext.backup_sync'>> {
    return routeCall(this.transport.post('/slapos.post.ext.backup_sync', body, options), this.masterUrl);
  }

  /** The URL of the master's HATEOAS root. */
  async getHateoasUrl(options?: CallOptions): Promise<string> {
    const answer = await this.transport.post('/slapos.get.v0.hateoas_url', {}, options);
    return answer.hateoas_url;
  }
}

/** An extension's answer, or undefined when the master does not have it (it answers 404). */
async function withoutExtension<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND') return undefined;
    throw error;
  }
}

/** The master's "No such path" answer (json-api.ts's not-found handler): it has no such route. */
const NO_SUCH_PATH = /^No such path: /;

/** A call of a route the master may lack (an older master, a SlapOS master): its 404 says so plainly. */
async function routeCall<T>(call: Promise<T>, masterUrl: string): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (
      error instanceof SlapError &&
      error.code === 'SLAP_ERR_NOT_FOUND' &&
      NO_SUCH_PATH.test(error.message)
    ) {
      throw lackingBackups(masterUrl);
    }
    throw error;
  }
}

/**
 * An invoice call's answer. A 404 is either the master lacking the route (an older master, a SlapOS
 * master) or the invoice not being found: the API error's title tells them apart.
 */
async function invoiceCall<T>(call: Promise<T>, masterUrl: string): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (!(error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND')) throw error;
    if (NO_SUCH_PATH.test(error.message)) throw lackingInvoices(masterUrl);
    throw new SlapError('SLAP_ERR_INVOICE_NOT_FOUND', error.message, {
      status: 404,
      hint: '`slapos invoice list` shows your invoices',
    });
  }
}

type InstanceAnswer = WireResponse<'/slapos.post.v0.software_instance'>;

/**
 * The request and instance-tree answers are either the instance document or `{message, name, status}`
 * (a master's "not now" answer, e.g. 408 while it allocates). The second form becomes a SlapError.
 */
function asInstance(answer: InstanceAnswer): Instance {
  if (typeof answer.instance_guid === 'string') return answer as Instance;
  const status = answer.status ?? 500;
  const message = answer.message ?? answer.name ?? 'the master did not return the instance';
  throw new SlapError(codeForApiError(status, message), message, {
    status,
    ...(status === 408 ? { hint: NOT_READY_HINT } : {}),
  });
}
