/**
 * The legacy calls a compute node makes (node.md Appendix A, docs/protocol.md §3.5): what to
 * deploy, format, reports on software releases and partitions, usage, bang, certificates.
 */
import { formatFromLegacyComputer } from '../../../core/format-plan.ts';
import { isSlapError } from '../../../core/errors.ts';
import { encodeMarshal } from '../../../core/xml-marshaller.ts';
import { onceEncoder } from '../memoized-answers.ts';
import { dictField, listField } from './marshal-fields.ts';
import { instanceOnPartition, partitionFields, unknownPartitionText } from './partition-instance.ts';
import type { LegacyCall, LegacyEnvironment, LegacyRoute } from './route.ts';
import { computerObject, partitionObject } from './slap-objects.ts';

/** Nodes poll these: every poll between two changes gets the same bytes. */
const encodeOnce = onceEncoder();

async function fullComputerInformation(environment: LegacyEnvironment, call: LegacyCall): Promise<Buffer> {
  const { services } = environment;
  const snapshot = await services.readNodeSnapshot({
    caller: call.caller,
    computeNodeId: call.form.required('computer_id'),
    unformattedDefault: true,
  });
  return encodeOnce(snapshot, () => encodeMarshal(computerObject(snapshot, services.context.naming)));
}

const SOFTWARE_REPORTS = {
  '/buildingSoftwareRelease': 'building',
  '/availableSoftwareRelease': 'available',
  '/destroyedSoftwareRelease': 'destroyed',
} as const;

const PARTITION_REPORTS = {
  '/startedComputerPartition': 'started',
  '/stoppedComputerPartition': 'stopped',
} as const;

/** The calls of a compute node. */
export function nodeRoutes(environment: LegacyEnvironment): LegacyRoute[] {
  const { services } = environment;
  const { context } = services;
  const proxyMode = context.mode === 'proxy';
  const routes: LegacyRoute[] = [
    {
      // An unknown compute node is a 404 (the client's NotFoundError, which the upstream tests and
      // slapproxy's README expect; slapproxy itself lets the error become a 500).
      method: 'GET',
      path: '/getFullComputerInformation',
      handle: (call) => fullComputerInformation(environment, call),
    },
    {
      // Kept by slapproxy for backward compatibility: the same answer.
      method: 'GET',
      path: '/getComputerInformation',
      handle: (call) => fullComputerInformation(environment, call),
    },
    {
      method: 'GET',
      path: '/registerComputerPartition',
      lookupMissStatus: 500,
      handle: async (call) => {
        const computeNodeId = call.form.required('computer_reference');
        const partitionId = call.form.required('computer_partition_reference');
        const state = await services.readPartitionState({ caller: call.caller, computeNodeId, partitionId });
        const encode = (): string =>
          encodeMarshal(partitionObject(computeNodeId, partitionId, state.instance, context.naming));
        return state.instance ? encodeOnce(state.instance, encode) : encode();
      },
    },
    {
      method: 'POST',
      path: '/loadComputerConfigurationFromXML',
      handle: async (call) => {
        const format = formatFromLegacyComputer(dictField(call.form, 'xml'));
        await services.formatComputeNode({ caller: call.caller, format });
        return 'done';
      },
    },
    ...Object.entries(SOFTWARE_REPORTS).map(([path, reportedState]): LegacyRoute => ({
      method: 'POST',
      path,
      handle: async (call) => {
        const outcome = await services.reportSoftwareInstallationState({
          caller: call.caller,
          computeNodeId: call.form.required('computer_id'),
          url: call.form.required('url'),
          reportedState,
        });
        return outcome === 'Destroyed' ? 'OK' : 'Ignored';
      },
    })),
    {
      method: 'POST',
      path: '/softwareReleaseError',
      handle: async (call) =>
        services.reportSoftwareInstallationError({
          caller: call.caller,
          computeNodeId: call.form.required('computer_id'),
          url: call.form.required('url'),
          message: call.form.optional('error_log') ?? '',
        }),
    },
    ...Object.entries(PARTITION_REPORTS).map(([path, reportedState]): LegacyRoute => ({
      method: 'POST',
      path,
      handle: async (call) => {
        const instance = await instanceOnPartition(environment, call, partitionFields(call));
        if (!instance) return 'Ignored';
        return services.reportInstanceState({
          caller: call.caller,
          instanceGuid: instance.instanceGuid,
          reportedState,
        });
      },
    })),
    {
      method: 'POST',
      path: '/destroyedComputerPartition',
      handle: async (call) => {
        const partition = partitionFields(call);
        const instance = await instanceOnPartition(environment, call, partition);
        if (!instance) return unknownPartitionText(partition);
        try {
          await services.reportInstanceState({
            caller: call.caller,
            instanceGuid: instance.instanceGuid,
            reportedState: 'destroyed',
          });
        } catch (error) {
          // The JSON API's 403 is a 200 with the same text here (the children are marked destroyed).
          if (isSlapError(error) && error.code === 'SLAP_ERR_HAS_CHILDREN') return error.message;
          throw error;
        }
        return 'OK';
      },
    },
    {
      method: 'POST',
      path: '/softwareInstanceError',
      handle: async (call) => {
        const instance = await instanceOnPartition(environment, call, partitionFields(call));
        if (!instance) return 'Ignored';
        return services.reportInstanceError({
          caller: call.caller,
          instanceGuid: instance.instanceGuid,
          message: call.form.optional('error_log') ?? '',
        });
      },
    },
    {
      method: 'POST',
      path: '/useComputer',
      handle: (call) =>
        services.reportComputeNodeUsage({
          caller: call.caller,
          computeNodeId: call.form.required('computer_id'),
          usageXml: call.form.required('use_string'),
        }),
    },
    {
      method: 'POST',
      path: '/computerBang',
      handle: async (call) => {
        await services.bangComputeNode({
          caller: call.caller,
          computeNodeId: call.form.required('computer_id'),
          message: call.form.optional('message') ?? '',
        });
        return encodeMarshal('');
      },
    },
    {
      method: 'GET',
      path: '/getComputerPartitionCertificate',
      handle: async (call) => {
        const instance = await instanceOnPartition(environment, call, partitionFields(call));
        const pair = instance
          ? await services.instanceCertificate({ caller: call.caller, instanceGuid: instance.instanceGuid })
          : { certificate: '', key: '' };
        return encodeMarshal({ certificate: pair.certificate, key: pair.key });
      },
    },
    {
      // slapgrid tells which instances a partition requested; nothing is kept (SlapOS's master
      // uses it for garbage collection). slapproxy answers 404, which slapgrid logs as a warning.
      method: 'POST',
      path: '/updateComputerPartitionRelatedInstanceList',
      handle: (call) => {
        partitionFields(call);
        listField(call.form, 'instance_reference_xml');
        return '';
      },
    },
  ];
  if (!proxyMode) {
    // slapproxy has no such calls (404); master mode's node certificates.
    routes.push(
      {
        method: 'POST',
        path: '/generateComputerCertificate',
        handle: async (call) => {
          const pair = await services.createComputeNodeCertificate({
            caller: call.caller,
            computeNodeId: call.form.required('computer_id'),
          });
          return encodeMarshal({ certificate: pair.certificate, key: pair.key });
        },
      },
      {
        method: 'POST',
        path: '/revokeComputerCertificate',
        handle: async (call) => {
          await services.revokeComputeNodeCertificate({
            caller: call.caller,
            computeNodeId: call.form.required('computer_id'),
          });
          return '';
        },
      },
    );
  }
  return routes;
}
