/**
 * slapproxy's own test fixture (test_slapproxy.py's BasicMixin and MasterMixin) over real HTTP: a
 * master on 127.0.0.1 in proxy mode with the default compute node 'computer' and a clock that moves
 * only where the upstream tests sleep, and the Python client objects those tests read, rebuilt from
 * the marshalled answers (`SlapPartition` reads exactly the attributes slap.py's ComputerPartition reads).
 */
import assert from 'node:assert/strict';
import { fixedClock } from '../core/clock.ts';
import { PyObject, encodeMarshal, type MarshalDict, type MarshalValue } from '../core/xml-marshaller.ts';
import {
  legacyGet,
  legacyPost,
  marshalDict,
  marshalList,
  marshalledAnswer,
  pythonTruth,
  requestComputerPartitionForm,
  slapObjectDict,
  type LegacyFields,
  type LegacyResponse,
} from './legacy.ts';
import { startTestMaster, type TestMaster, type TestMasterOptions } from './master.ts';

/** The upstream tests' default compute node. */
export const DEFAULT_COMPUTER = 'computer';
/** Where the test clock starts (seconds since the epoch). */
export const START_TIME = 1_700_000_000.25;

/** slap.py's ResourceNotReady / NotFoundError, raised by the rebuilt client objects. */
export class ResourceNotReady extends Error {
  override name = 'ResourceNotReady';
}
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The keyword arguments of test_slapproxy.py's `_requestComputerPartition` after the positional ones. */
export interface UpstreamRequestOptions {
  shared?: MarshalValue;
  parameters?: MarshalDict;
  filter?: MarshalDict;
  state?: string | null;
  /** The requester's compute node (default 'computer'); only with a requesting partition. */
  computerId?: string;
  headers?: Readonly<Record<string, string>>;
}

/** A Computer as the client unmarshals it. */
export interface SlapComputer {
  dict: MarshalDict;
  partitions: SlapPartition[];
  /** `_software_release_list`: the SoftwareRelease objects' dictionaries. */
  softwareReleases: MarshalDict[];
}

export interface LegacyMaster {
  readonly url: string;
  readonly master: TestMaster;
  /** The master's clock: it moves only when a test advances it (where the upstream tests sleep). */
  readonly clock: ReturnType<typeof fixedClock>;
  get(
    path: string,
    query?: LegacyFields,
    headers?: Readonly<Record<string, string>>,
  ): Promise<LegacyResponse>;
  post(
    path: string,
    form?: LegacyFields,
    headers?: Readonly<Record<string, string>>,
  ): Promise<LegacyResponse>;
  /** `format_for_number_of_partitions`: empties the node, then gives it slappart0…N-1. */
  formatForNumberOfPartitions(amount: number, computerId?: string): Promise<void>;
  /** `_requestComputerPartition`: the raw answer. `partitionId` makes it a request from that partition. */
  requestRaw(
    softwareRelease: string,
    softwareType: string | null,
    partitionReference: string,
    partitionId?: string | null,
    options?: UpstreamRequestOptions,
  ): Promise<LegacyResponse>;
  /** MasterMixin.request: 200 expected, the answer as the client's ComputerPartition. */
  request(
    softwareRelease: string,
    softwareType: string | null,
    partitionReference: string,
    partitionId?: string | null,
    options?: UpstreamRequestOptions,
  ): Promise<SlapPartition>;
  supply(url: string, computerId?: string, state?: string): Promise<LegacyResponse>;
  setConnectionDict(
    partitionId: string,
    connection: MarshalDict,
    slaveReference?: string | null,
  ): Promise<LegacyResponse>;
  getFullComputerInformation(computerId?: string): Promise<SlapComputer>;
  /** The default node's partition of that id, as getFullComputerInformation lists it. */
  getPartitionInformation(partitionId: string): Promise<SlapPartition | undefined>;
}

/** The client's ComputerPartition: its `__dict__` and the reads slap.py makes of it. */
export class SlapPartition {
  constructor(
    private readonly master: LegacyMaster,
    readonly dict: MarshalDict,
  ) {}

  /** `_computer_id` as a string (the requests made from this partition name it). */
  get computerId(): string {
    const id = this.dict['_computer_id'];
    assert.equal(typeof id, 'string', '_computer_id is a string');
    return id as string;
  }

  /** `_partition_id` as it is (the fake frontend partition's is a sentence). */
  get partitionId(): MarshalValue | undefined {
    return this.dict['_partition_id'];
  }

  getId(): string {
    const id = this.dict['_partition_id'];
    if (typeof id !== 'string' || id === '') throw new ResourceNotReady('no partition id');
    return id;
  }

  /** `getState()`: `_requested_state`, fetched with registerComputerPartition when absent. */
  async getState(): Promise<string> {
    if (!('_requested_state' in this.dict)) await this.fetchInformation();
    const state = this.dict['_requested_state'];
    if (state === null || state === undefined) throw new ResourceNotReady('no requested state');
    assert.equal(typeof state, 'string', '_requested_state is a string');
    return state as string;
  }

  async getInstanceGuid(): Promise<string> {
    if (!('_instance_guid' in this.dict)) await this.fetchInformation();
    const guid = this.dict['_instance_guid'];
    if (guid === null || guid === undefined) throw new ResourceNotReady('no instance guid');
    assert.equal(typeof guid, 'string', '_instance_guid is a string');
    return guid as string;
  }

  /** `getInstanceParameterDict()` without a fetch: `_parameter_dict or {}`. */
  get parameterDict(): MarshalDict {
    const parameters = this.dict['_parameter_dict'];
    return parameters ? marshalDict(parameters, '_parameter_dict') : {};
  }

  getInstanceParameter(key: string): MarshalValue {
    const parameters = this.parameterDict;
    if (!(key in parameters)) throw new NotFoundError(`${key} not found`);
    return parameters[key] ?? null;
  }

  /** `_parameter_dict['timestamp']` as the float the tests compare. */
  get timestamp(): number {
    const text = this.parameterDict['timestamp'];
    assert.equal(typeof text, 'string', `timestamp is a str(float), got ${JSON.stringify(text)}`);
    return Number(text);
  }

  /** `getConnectionParameterDict()` (no slapproxy older than 1.0 here: `_connection_dict` is there). */
  async getConnectionParameterDict(): Promise<MarshalDict> {
    if (!('_connection_dict' in this.dict)) await this.fetchInformation();
    const connection = this.dict['_connection_dict'];
    return connection ? marshalDict(connection, '_connection_dict') : {};
  }

  async getConnectionParameter(key: string): Promise<MarshalValue> {
    const connection = await this.getConnectionParameterDict();
    if (!(key in connection)) throw new NotFoundError(`${key} not found`);
    return connection[key] ?? null;
  }

  /** `_software_release_document` as the SoftwareRelease's dictionary, or null for none. */
  get softwareReleaseDocument(): MarshalDict | null {
    const document = this.dict['_software_release_document'];
    return document === null || document === undefined ? null : slapObjectDict(document, 'SoftwareRelease');
  }

  /** `getSoftwareRelease().getURI()`. */
  softwareReleaseUri(): string {
    const document = this.softwareReleaseDocument;
    if (!document) throw new NotFoundError(`No software release information for partition ${this.getId()}`);
    const uri = document['_software_release'];
    if (typeof uri !== 'string' || uri === '') throw new Error('software_release has not been defined.');
    return uri;
  }

  /** ComputerPartition.request: a request made from this partition. */
  async request(
    softwareRelease: string,
    softwareType: string | null,
    partitionReference: string,
    options: Omit<UpstreamRequestOptions, 'computerId' | 'headers'> = {},
  ): Promise<SlapPartition> {
    const response = await this.master.post(
      '/requestComputerPartition',
      requestComputerPartitionForm({
        softwareRelease,
        softwareType,
        partitionReference,
        ...options,
        requester: { computerId: this.computerId, partitionId: this.getId() },
      }),
    );
    return partitionFromRequestAnswer(this.master, response);
  }

  /** What `slapos node report` calls once the partition is destroyed. */
  destroyed(): Promise<LegacyResponse> {
    return this.master.post('/destroyedComputerPartition', {
      computer_id: this.computerId,
      computer_partition_id: this.getId(),
    });
  }

  rename(newName: string): Promise<LegacyResponse> {
    return this.master.post('/softwareInstanceRename', {
      computer_id: this.computerId,
      computer_partition_id: this.getId(),
      new_name: newName,
    });
  }

  /** `_fetchComputerPartitionInformation`: registerComputerPartition, five attributes copied. */
  private async fetchInformation(): Promise<void> {
    const answer = marshalledAnswer(
      await this.master.get('/registerComputerPartition', {
        computer_reference: this.computerId,
        computer_partition_reference: this.getId(),
      }),
    );
    const fetched = slapObjectDict(answer, 'ComputerPartition');
    for (const key of [
      '_instance_guid',
      '_requested_state',
      '_software_release_document',
      '_parameter_dict',
      '_connection_dict',
    ]) {
      this.dict[key] = fetched[key] ?? null;
    }
  }
}

/**
 * SlapRequester._requestComputerPartition: a ComputerPartition built from the answer's
 * slap_computer_id and slap_computer_partition_id, then given all the answer's attributes.
 */
function partitionFromRequestAnswer(master: LegacyMaster, response: LegacyResponse): SlapPartition {
  const answer = marshalledAnswer(response);
  // The frontend bypass answers a ComputerPartition, every other request a SoftwareInstance.
  const className =
    answer instanceof PyObject && answer.className === 'ComputerPartition'
      ? answer.className
      : 'SoftwareInstance';
  const attributes = slapObjectDict(answer, className);
  return new SlapPartition(master, {
    _computer_id: attributes['slap_computer_id'] ?? null,
    _partition_id: attributes['slap_computer_partition_id'] ?? null,
    _request_dict: null,
    ...attributes,
  });
}

function computerFrom(master: LegacyMaster, answer: MarshalValue): SlapComputer {
  const dict = slapObjectDict(answer, 'Computer');
  return {
    dict,
    partitions: marshalList(dict['_computer_partition_list'], '_computer_partition_list').map(
      (partition) => new SlapPartition(master, slapObjectDict(partition, 'ComputerPartition')),
    ),
    softwareReleases: marshalList(dict['_software_release_list'], '_software_release_list').map((release) =>
      slapObjectDict(release, 'SoftwareRelease'),
    ),
  };
}

/** SoftwareRelease.getState(): `_requested_state`, 'available' when absent. */
export function softwareReleaseState(release: MarshalDict): MarshalValue {
  return '_requested_state' in release ? (release['_requested_state'] ?? null) : 'available';
}

/** Starts a master for one upstream test, runs `work`, and always closes it. */
export async function withLegacyMaster(
  work: (master: LegacyMaster) => Promise<void>,
  options: Omit<TestMasterOptions, 'clock' | 'computerId'> = {},
): Promise<void> {
  const clock = fixedClock(START_TIME);
  const master = await startTestMaster({ ...options, clock, computerId: DEFAULT_COMPUTER });
  try {
    await work(legacyMaster(master, clock));
  } finally {
    await master.close();
  }
}

function legacyMaster(master: TestMaster, clock: ReturnType<typeof fixedClock>): LegacyMaster {
  const self: LegacyMaster = {
    url: master.url,
    master,
    clock,
    get: (path, query, headers) => legacyGet(master.url, path, query, headers),
    post: (path, form, headers) => legacyPost(master.url, path, form, headers),

    async formatForNumberOfPartitions(amount, computerId = DEFAULT_COMPUTER) {
      const computer: MarshalDict = {
        reference: computerId,
        address: '12.34.56.78',
        netmask: '255.255.255.255',
        partition_list: [],
      };
      const load = (): Promise<LegacyResponse> =>
        self.post('/loadComputerConfigurationFromXML', {
          computer_id: DEFAULT_COMPUTER,
          xml: encodeMarshal(computer),
        });
      await load();
      computer['partition_list'] = Array.from({ length: amount }, (_, index) => ({
        reference: `slappart${index}`,
        address_list: [
          { addr: '1.2.3.4', netmask: '255.255.255.255' },
          { addr: '4.3.2.1', netmask: '255.255.255.255' },
        ],
        tap: { name: 'tap0' },
      }));
      const response = await load();
      assert.equal(response.status, 200, response.text);
    },

    requestRaw(softwareRelease, softwareType, partitionReference, partitionId, options = {}) {
      return self.post(
        '/requestComputerPartition',
        requestComputerPartitionForm({
          softwareRelease,
          softwareType,
          partitionReference,
          ...(options.shared === undefined ? {} : { shared: options.shared }),
          ...(options.parameters ? { parameters: options.parameters } : {}),
          ...(options.filter ? { filter: options.filter } : {}),
          state: options.state ?? null,
          ...(partitionId === undefined || partitionId === null
            ? {}
            : { requester: { computerId: options.computerId ?? DEFAULT_COMPUTER, partitionId } }),
        }),
        options.headers,
      );
    },

    async request(softwareRelease, softwareType, partitionReference, partitionId, options = {}) {
      const response = await self.requestRaw(
        softwareRelease,
        softwareType,
        partitionReference,
        partitionId,
        options,
      );
      clock.advance(0.01);
      const requestedAt = clock.now();
      assert.equal(response.status, 200, response.text);
      const partition = partitionFromRequestAnswer(self, response);
      if (!pythonTruth(options.shared ?? false)) {
        assert.ok(
          partition.timestamp <= requestedAt,
          `timestamp ${partition.timestamp} is not before ${requestedAt}`,
        );
      }
      return partition;
    },

    supply(url, computerId = DEFAULT_COMPUTER, state = 'available') {
      return self.post('/supplySupply', { url, computer_id: computerId, state });
    },

    setConnectionDict(partitionId, connection, slaveReference = null) {
      return self.post('/setComputerPartitionConnectionXml', {
        computer_id: DEFAULT_COMPUTER,
        computer_partition_id: partitionId,
        connection_xml: encodeMarshal(connection),
        slave_reference: slaveReference,
      });
    },

    async getFullComputerInformation(computerId = DEFAULT_COMPUTER) {
      return computerFrom(
        self,
        marshalledAnswer(await self.get('/getFullComputerInformation', { computer_id: computerId })),
      );
    },

    async getPartitionInformation(partitionId) {
      const computer = await self.getFullComputerInformation();
      return computer.partitions.find((partition) => partition.dict['_partition_id'] === partitionId);
    },
  };
  return self;
}
