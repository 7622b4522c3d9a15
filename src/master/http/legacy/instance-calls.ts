/**
 * The legacy calls of users and instances (docs/protocol.md §3.5): request an instance, supply a
 * software release, publish connection parameters, rename, bang, and the small lookups of
 * `slapos request` (software products, partition status, the run id).
 */
import { SlapError } from '../../../core/errors.ts';
import { pyStrRepr } from '../../../core/python-value.ts';
import type { SoftwareInstallationState } from '../../../core/states.ts';
import { encodeMarshal } from '../../../core/xml-marshaller.ts';
import { parameterField, sharedField, slaField, stateField } from './marshal-fields.ts';
import { instanceOnPartition, partitionFields, unknownPartitionText } from './partition-instance.ts';
import type { LegacyCall, LegacyEnvironment, LegacyRoute } from './route.ts';
import { requestAnswerObject } from './slap-objects.ts';

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

const SUPPLY_STATES: ReadonlySet<string> = new Set<SoftwareInstallationState>(['available', 'destroyed']);

async function requestComputerPartition(environment: LegacyEnvironment, call: LegacyCall): Promise<string> {
  const { services } = environment;
  const { form } = call;
  const proxyMode = services.context.mode === 'proxy';
  const computeNodeId = form.optional('computer_id');
  const partitionId = form.optional('computer_partition_id');
  const view = await services.requestInstance({
    caller: call.caller,
    title: form.required('partition_reference'),
    softwareRelease: form.required('software_release'),
    softwareType: form.required('software_type'),
    state: stateField(form),
    shared: sharedField(form),
    // slapproxy's default when a client leaves them out (Python 3 slapproxy crashes instead).
    parameters: parameterField(form, 'partition_parameter_xml', {}),
    sla: slaField(form),
    // An instance's request names its partition; in master mode its certificate does.
    requester:
      proxyMode && computeNodeId !== undefined && partitionId !== undefined
        ? { computeNodeId, partitionId }
        : undefined,
    origin: call.origin(),
  });
  if (!view.shared && !view.frontendBypass && view.computeNodeId === '') {
    // Accepted, but no partition may take it yet (master mode): the client retries later.
    throw new SlapError('SLAP_ERR_NOT_READY', 'Resource not ready');
  }
  return encodeMarshal(requestAnswerObject(view, services.context.naming));
}

/** `slapos request product.<name>`: the software release of a product (`[slapproxy] software_product_list`). */
function softwareProductReleases(environment: LegacyEnvironment, call: LegacyCall): string {
  const product = call.form.optional('software_product_reference');
  const release = call.form.optional('software_release_url');
  if (release !== undefined)
    throw invalid('software_release_url is not supported: ask with software_product_reference.');
  if (product === undefined) throw invalid('The request is missing the field "software_product_reference".');
  const url = environment.softwareProducts.get(product);
  return encodeMarshal(url === undefined ? [] : [url]);
}

export function instanceRoutes(environment: LegacyEnvironment): LegacyRoute[] {
  const { services } = environment;
  const { naming, mode } = services.context;
  return [
    {
      method: 'POST',
      path: '/requestComputerPartition',
      handle: (call) => requestComputerPartition(environment, call),
    },
    {
      method: 'POST',
      path: '/supplySupply',
      handle: async (call) => {
        const url = call.form.required('url');
        const state = call.form.required('state');
        if (!SUPPLY_STATES.has(state))
          throw invalid(`state must be available or destroyed, not ${JSON.stringify(state)}`);
        await services.supplySoftware({
          caller: call.caller,
          computeNodeId: call.form.required('computer_id'),
          url,
          state: state as SoftwareInstallationState,
        });
        return `Supplied ${pyStrRepr(url)} to be ${state}`;
      },
    },
    {
      method: 'POST',
      path: '/setComputerPartitionConnectionXml',
      handle: async (call) => {
        const partition = partitionFields(call);
        const parameters = parameterField(call.form, 'connection_xml');
        const reference = call.form.optional('slave_reference');
        let instanceGuid: string | undefined;
        if (reference === undefined || reference === '' || reference === 'None') {
          instanceGuid = (await instanceOnPartition(environment, call, partition))?.instanceGuid;
        } else {
          instanceGuid = naming.sharedGuidOfReference(reference);
          if (instanceGuid === undefined && mode === 'master')
            throw new SlapError(
              'SLAP_ERR_SHARED_INSTANCE_NOT_FOUND',
              `No shared instance ${reference} found.`,
            );
        }
        // Unknown targets change nothing in proxy mode, as slapproxy.
        if (instanceGuid !== undefined)
          await services.setConnectionParameters({ caller: call.caller, instanceGuid, parameters });
        return 'done';
      },
    },
    {
      method: 'POST',
      path: '/softwareInstanceRename',
      handle: async (call) => {
        const newTitle = call.form.required('new_name');
        const partition = partitionFields(call);
        const instance = await instanceOnPartition(environment, call, partition);
        if (!instance) return unknownPartitionText(partition);
        // The legacy rename of a root keeps its tree together.
        await services.renameInstance({
          caller: call.caller,
          instanceGuid: instance.instanceGuid,
          newTitle,
          repointChildren: true,
        });
        return 'done';
      },
    },
    {
      method: 'POST',
      path: '/softwareInstanceBang',
      handle: async (call) => {
        const instance = await instanceOnPartition(environment, call, partitionFields(call));
        if (instance)
          await services.bangInstance({
            caller: call.caller,
            instanceGuid: instance.instanceGuid,
            message: call.form.optional('message') ?? '',
            scope: 'tree',
          });
        return 'OK';
      },
    },
    {
      method: 'GET',
      path: '/getComputerPartitionStatus',
      handle: () => encodeMarshal('Not implemented.'),
    },
    {
      method: 'GET',
      path: '/getSoftwareReleaseListFromSoftwareProduct',
      handle: (call) => softwareProductReleases(environment, call),
    },
    {
      method: 'GET',
      path: '/getHateoasUrl',
      handle: (call) => services.hateoasUrl({ caller: call.caller, origin: call.origin() }),
    },
    {
      method: 'GET',
      path: '/getRunId',
      handle: () => environment.runId,
    },
  ];
}
