/** The master's use cases, bound to one service context. The transports call only these. */
import type { ServiceContext } from './context.ts';
import * as changeStream from './change-stream.ts';
import * as computeNodes from './compute-nodes.ts';
import * as nodeViews from './compute-node-views.ts';
import { formatComputeNode } from './format-compute-node.ts';
import * as reports from './instance-reports.ts';
import { instanceCertificate } from './instance-certificates.ts';
import { readInvoiceEvidence } from './invoice-evidence.ts';
import { readInstanceStatus } from './instance-status.ts';
import { readInstanceTimeline } from './instance-timeline.ts';
import * as instanceTrees from './instance-trees.ts';
import * as invoices from './invoices.ts';
import * as priceLists from './price-lists.ts';
import * as registration from './node-registration.ts';
import * as registrationTokens from './registration-tokens.ts';
import * as panelSessions from './panel-sessions.ts';
import * as promiseResults from './promise-results.ts';
import * as reads from './read-instances.ts';
import * as masterMetrics from './master-metrics.ts';
import { requestInstance } from './request-instance.ts';
import * as software from './software-installations.ts';
import * as usage from './usage-records.ts';
import { syncBackups } from './backup-sync.ts';
import * as backupRequests from './backup-requests.ts';
import { takeoverInstance } from './failover.ts';
import type { ReadSoftwareSchemaInput, SoftwareSchema } from './software-schema.ts';

type Input<F> = F extends (context: ServiceContext, input: infer I) => unknown ? I : never;
type Output<F> = F extends (context: ServiceContext, input: never) => infer O ? O : never;
type Bound<F> = (input: Input<F>) => Output<F>;

function bind<F extends (context: ServiceContext, input: never) => unknown>(
  context: ServiceContext,
  useCase: F,
): Bound<F> {
  return ((input: Input<F>) => useCase(context, input as never)) as Bound<F>;
}

/** Loaded on first use: reading schemas needs an HTTP client a master need not load to start. */
async function readSoftwareSchema(
  context: ServiceContext,
  input: ReadSoftwareSchemaInput,
): Promise<SoftwareSchema | undefined> {
  return (await import('./software-schema.ts')).readSoftwareSchema(context, input);
}

export function createMasterServices(context: ServiceContext) {
  return {
    context,
    requestInstance: bind(context, requestInstance),
    getInstance: bind(context, reads.getInstance),
    getComputePartition: bind(context, reads.getComputePartition),
    getInstanceTree: bind(context, reads.getInstanceTree),
    listInstanceTrees: bind(context, reads.listInstanceTrees),
    listInstanceTreeViews: bind(context, reads.listInstanceTreeViews),
    listInstanceTreeSummaries: bind(context, instanceTrees.listInstanceTreeSummaries),
    readInstanceTreeDetails: bind(context, instanceTrees.readInstanceTreeDetails),
    changeInstanceTreeState: bind(context, instanceTrees.changeInstanceTreeState),
    updateInstanceTree: bind(context, instanceTrees.updateInstanceTree),
    listComputeNodeInstances: bind(context, reads.listComputeNodeInstances),
    listHostedSharedInstances: bind(context, reads.listHostedSharedInstances),
    reportInstanceState: bind(context, reports.reportInstanceState),
    reportInstanceError: bind(context, reports.reportInstanceError),
    setConnectionParameters: bind(context, reports.setConnectionParameters),
    bangInstance: bind(context, reports.bangInstance),
    renameInstance: bind(context, reports.renameInstance),
    formatComputeNode: bind(context, formatComputeNode),
    listComputeNodes: bind(context, computeNodes.listComputeNodes),
    updateComputeNodeAccess: bind(context, computeNodes.updateComputeNodeAccess),
    listComputeNodeViews: bind(context, nodeViews.listComputeNodeViews),
    readComputeNodeView: bind(context, nodeViews.readComputeNodeView),
    computeNodeStatus: bind(context, computeNodes.computeNodeStatus),
    bangComputeNode: bind(context, computeNodes.bangComputeNode),
    reportComputeNodeUsage: bind(context, usage.reportComputeNodeUsage),
    readUsageSeries: bind(context, usage.readUsageSeries),
    createComputeNodeCertificate: bind(context, computeNodes.createComputeNodeCertificate),
    revokeComputeNodeCertificate: bind(context, computeNodes.revokeComputeNodeCertificate),
    instanceCertificate: bind(context, instanceCertificate),
    createRegistrationToken: bind(context, registration.createRegistrationToken),
    listRegistrationTokens: bind(context, registrationTokens.listRegistrationTokens),
    revokeRegistrationToken: bind(context, registrationTokens.revokeRegistrationToken),
    registerComputeNode: bind(context, registration.registerComputeNode),
    renewComputeNodeCertificate: bind(context, registration.renewComputeNodeCertificate),
    hateoasUrl: bind(context, computeNodes.hateoasUrl),
    supplySoftware: bind(context, software.supplySoftware),
    reportSoftwareInstallationState: bind(context, software.reportSoftwareInstallationState),
    reportSoftwareInstallationError: bind(context, software.reportSoftwareInstallationError),
    listSoftwareInstallations: bind(context, software.listSoftwareInstallations),
    listSoftwareInstallationStatuses: bind(context, software.listSoftwareInstallationStatuses),
    readSoftwareSchema: bind(context, readSoftwareSchema),
    readInstanceStatus: bind(context, readInstanceStatus),
    readNodeSnapshot: bind(context, changeStream.readNodeSnapshot),
    readPartitionState: bind(context, changeStream.readPartitionState),
    watchComputeNode: bind(context, changeStream.watchComputeNode),
    reportPromiseResults: bind(context, promiseResults.reportPromiseResults),
    readPromiseResults: bind(context, promiseResults.readPromiseResults),
    readPromiseHistory: bind(context, promiseResults.readPromiseHistory),
    readInstanceTimeline: bind(context, readInstanceTimeline),
    openPanelSession: bind(context, panelSessions.openPanelSession),
    panelSessionCaller: bind(context, panelSessions.panelSessionCaller),
    closePanelSession: bind(context, panelSessions.closePanelSession),
    watchMasterChanges: bind(context, panelSessions.watchMasterChanges),
    countInstancesByStatus: bind(context, masterMetrics.countInstancesByStatus),
    listComputeNodeContacts: bind(context, masterMetrics.listComputeNodeContacts),
    setPriceList: bind(context, priceLists.setPriceList),
    listPriceLists: bind(context, priceLists.listPriceLists),
    generateInvoices: bind(context, invoices.generateInvoices),
    listInvoices: bind(context, invoices.listInvoices),
    getInvoice: bind(context, invoices.getInvoice),
    markInvoicePaid: bind(context, invoices.markInvoicePaid),
    readInvoiceEvidence: bind(context, readInvoiceEvidence),
    syncBackups: bind(context, syncBackups),
    takeoverInstance: bind(context, takeoverInstance),
    requestBackup: bind(context, backupRequests.requestBackup),
    listBackups: bind(context, backupRequests.listBackups),
    requestRestore: bind(context, backupRequests.requestRestore),
  };
}

export type MasterServices = ReturnType<typeof createMasterServices>;
export {
  ANONYMOUS_CALLER,
  LOCAL_CALLER,
  proxyModeAuthorizer,
  type Authorizer,
  type Caller,
} from './caller.ts';
export { createServiceContext, type ServiceContext } from './context.ts';
export { createMasterAuthorizer } from './master-authorizer.ts';
export { auditLogger } from './audit.ts';
export type { InstanceView } from './instance-view.ts';
export type {
  NodeSnapshot,
  PartitionSnapshot,
  PartitionState,
  SharedInstanceSnapshot,
} from './change-stream.ts';
export type { RequestOrigin } from './frontend-bypass.ts';
export type { PromiseResult, PromiseResults, PromiseTransition } from './promise-results.ts';
export type { InstanceEvent } from './instance-timeline.ts';
export type { InstanceStatusReport } from './instance-status.ts';
export type { InstanceStatusCount } from './master-metrics.ts';
export type { InstanceDetails, InstanceTreeDetails, InstanceTreeSummary } from './instance-trees.ts';
export type { SoftwareInstallationStatusItem } from './software-installations.ts';
export type { ComputeNodeSummary, ComputeNodeView, PartitionView } from './compute-node-views.ts';
export type { RegistrationTokenItem } from './registration-tokens.ts';
export type { UsageSeries, UsageSeriesInput } from './usage-records.ts';
export type { GenerationResult, InvoiceListInput } from './invoices.ts';
export type { InputSchema, SoftwareSchema, SoftwareTypeEntry } from './software-schema.ts';
export type {
  BackupPartitionReport,
  BackupSyncAnswer,
  BackupPartitionOrder,
  RestoreSource,
  RestoreStatus,
} from './backup-sync.ts';
export type { BackupList, BackupListItem } from './backup-requests.ts';
export type { TakeoverAnswer } from './failover.ts';
