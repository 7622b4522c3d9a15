/** Service results as JSON API documents (the shapes of the contract's responses). */
import type { ApiRequest, ApiResponse } from '../../api/index.ts';
import { changeMarker, timestampString } from '../../core/change-marker.ts';
import { processingTimestamp } from '../../core/clock.ts';
import { rootTitleOf } from '../../core/instance-guid.ts';
import type { NodeSnapshot } from '../services/change-stream.ts';
import type { PromiseResults } from '../services/promise-results.ts';
import type {
  BackupList,
  BackupPartitionReport,
  BackupSyncAnswer,
  RestoreSource,
  InstanceStatusReport,
  SoftwareInstallationStatusItem,
} from '../services/index.ts';
import type { InstanceView } from '../services/instance-view.ts';

/** The contract's instance document (its generated type says `Record<string, never>` for free-form objects). */
export type InstanceDocument = Omit<
  ApiResponse<'/slapos.get.v0.software_instance'>,
  'parameters' | 'connection_parameters' | 'sla_parameters'
> & {
  parameters: Record<string, unknown>;
  connection_parameters: Record<string, unknown>;
  sla_parameters: Record<string, unknown>;
};

export function instanceDocument(view: InstanceView): InstanceDocument {
  return {
    title: view.title,
    instance_guid: view.instanceGuid,
    software_release_uri: view.softwareRelease,
    software_type: view.softwareType,
    state: view.state,
    connection_parameters: view.connectionParameters,
    parameters: view.parameters,
    shared: view.shared,
    root_instance_title: rootTitleOf(view),
    ip_list: view.ipList,
    full_ip_list: [],
    sla_parameters: {},
    computer_guid: view.computeNodeId,
    compute_partition_id: view.partitionId,
    processing_timestamp: processingTimestamp(view.timestamp),
    access_status_message: '',
  };
}

export function success(title: string): { type: 'success'; title: string } {
  return { type: 'success', title };
}

/** Our extension's node snapshot (slapos-extensions.json). */
export function nodeSnapshotDocument(
  snapshot: NodeSnapshot,
): ApiResponse<'/slapos.get.ext.compute_node_snapshot'> {
  return {
    computer_guid: snapshot.computeNodeId,
    revision: snapshot.revision,
    software_installation_list: snapshot.software.map((item) => ({
      software_release_uri: item.url,
      state: item.state,
    })),
    compute_partition_list: snapshot.partitions.map((partition) => ({
      compute_partition_id: partition.partitionId,
      instance_guid: partition.instanceGuid,
      title: partition.title,
      root_instance_title: partition.rootTitle,
      state: partition.state,
      software_release_uri: partition.softwareRelease,
      software_type: partition.softwareType,
      parameters: partition.parameters,
      sla_parameters: partition.sla as Record<string, never>,
      connection_parameters: partition.connectionParameters,
      ip_list: partition.ipList,
      timestamp: timestampString(partition.timestamp),
      processing_timestamp: processingTimestamp(partition.timestamp),
      marker: changeMarker(partition.timestamp, partition.dependencySerial),
      shared_instance_list: partition.sharedInstances.map((shared) => ({
        title: shared.title,
        instance_guid: shared.instanceGuid,
        software_type: shared.softwareType,
        parameters: shared.parameters as Record<string, never>,
        connection_parameters: shared.connectionParameters,
      })),
    })),
  };
}

/** Our extension's promise results of an instance (slapos-extensions.json). */
export function promiseResultsDocument(
  instanceGuid: string,
  results: PromiseResults,
): ApiResponse<'/slapos.get.ext.software_instance_promise_result'> {
  return {
    instance_guid: instanceGuid,
    result_list: results.results,
    reported_at: isoDate(results.reportedAt),
  };
}

/** Float seconds as the extensions' ISO 8601 dates (UTC); null stays null. */
function isoDate(seconds: number | null): string | null {
  return seconds === null ? null : new Date(seconds * 1000).toISOString();
}

/** Our extension's instance status (slapos-extensions.json). */
export function instanceStatusDocument(
  instanceGuid: string,
  report: InstanceStatusReport,
): ApiResponse<'/slapos.get.ext.software_instance_status'> {
  return {
    instance_guid: instanceGuid,
    status: report.status,
    status_message: report.message,
    requested_state: report.requestedState,
    reported_state: report.reportedState,
    reported_at: isoDate(report.reportedAt),
    error_at: isoDate(report.errorAt),
    software_installation_status: report.softwareStatus,
  };
}

/** Our extension's software installation statuses of a compute node (slapos-extensions.json). */
export function softwareInstallationStatusDocument(
  computeNodeId: string,
  items: readonly SoftwareInstallationStatusItem[],
): ApiResponse<'/slapos.get.ext.compute_node_software_installation_status'> {
  return {
    computer_guid: computeNodeId,
    result_list: items.map((item) => ({
      software_release_uri: item.url,
      state: item.state,
      status: item.status,
      error_message: item.errorMessage,
      reported_at: isoDate(item.reportedAt),
    })),
  };
}

/** A node's backup sync request as the service takes it (slapos-extensions.json). */
export function backupSyncReports(body: ApiRequest<'/slapos.post.ext.backup_sync'>): BackupPartitionReport[] {
  const ref = (value: { backup_id: string; time: number } | null) =>
    value === null ? null : { backupId: value.backup_id, time: value.time };
  return body.partition_list.map((item) => ({
    partitionId: item.partition_id,
    instanceGuid: item.instance_guid,
    declared: item.declared,
    servicesStopped: item.services_stopped,
    lastBackup: ref(item.last_backup),
    restored: ref(item.restored),
    backupList: item.backup_list.map((backup) => ({ backupId: backup.backup_id, time: backup.time })),
    restoreDone:
      item.restore_done === null
        ? null
        : {
            requestId: item.restore_done.request_id,
            ok: item.restore_done.ok,
            message: item.restore_done.message,
            restoredBackupId: item.restore_done.restored_backup_id ?? null,
          },
  }));
}

type RestoreSourceDocument = NonNullable<
  ApiResponse<'/slapos.post.ext.backup_sync'>['partition_list'][number]['restore_request']
>['source'];

function restoreSourceDocument(source: RestoreSource | null): RestoreSourceDocument {
  if (source === null) return null;
  return {
    repository: source.repository,
    password: source.password,
    locations: source.locations.map((location) => ({
      computer_guid: location.computeNodeId,
      url: location.url,
      certificate: location.certificate,
    })),
  };
}

/** The backup sync's answer (slapos-extensions.json). */
export function backupSyncDocument(answer: BackupSyncAnswer): ApiResponse<'/slapos.post.ext.backup_sync'> {
  return {
    heartbeat_interval: answer.heartbeatInterval,
    partition_list: answer.partitions.map((order) => ({
      partition_id: order.partitionId,
      instance_guid: order.instanceGuid,
      repository: order.repository,
      password: order.password,
      role: order.role,
      epoch: order.epoch,
      targets: order.targets.map((target) => ({
        computer_guid: target.computeNodeId,
        url: target.url,
        certificate: target.certificate,
      })),
      writers: order.writers,
      readers: order.readers,
      backup_requested_at: order.backupRequestedAt,
      restore_request:
        order.restoreRequest === null
          ? null
          : {
              request_id: order.restoreRequest.requestId,
              backup_id: order.restoreRequest.backupId,
              source: restoreSourceDocument(order.restoreRequest.source),
            },
    })),
  };
}

/** A tree's backups and its last restore (slapos-extensions.json). */
export function backupListDocument(list: BackupList): ApiResponse<'/slapos.get.ext.instance_backup_list'> {
  return {
    backup_list: list.backups.map((backup) => ({
      backup_id: backup.backupId,
      time: backup.time,
      computer_guid_list: backup.computeNodeIds,
    })),
    restore: list.restore,
  };
}
