/**
 * slapproxy's own legacy tests (slapos.core, slapos/tests/test_slapproxy.py) replayed over real HTTP
 * against our master in proxy mode. Each upstream test has a test() of the same name; it sends what
 * the Python client sends (src/testing/legacy.ts: form POSTs and query strings encoded as `requests`
 * does, None as "None", marshalled fields, the client's headers) and asserts what the upstream test
 * asserts, on the marshalled answers. Where the upstream test reads a Python object (getState(),
 * getInstanceParameterDict(), …) we assert the wire value that method reads (src/testing/legacy-master.ts).
 * Where it uses `time.sleep` so that timestamps differ, the master's clock is advanced by as much.
 *
 * This file: TestLoadComputerConfiguration, TestInformation, TestSoftwareInstallation, TestRequest.
 * legacy-api-upstream-shared.test.ts: TestSlaveRequest, TestMultiNodeSupport.
 * legacy-api-upstream-cli.test.ts: TestCliInformation (the /hateoas/ answers the CLI reads).
 *
 * Translated rather than replayed as is:
 * - Flask's test client raises the server's exception where a real HTTP client gets an error page:
 *   `assertRaises(NotFoundError)` is asserted as a 404 answer (what the client turns into
 *   NotFoundError), `assertRaises(AssertionError)` (a refused parameter combination) as a 400.
 * - test_getComputerInformation / test_getFullComputerInformation also check that slapproxy's SQLite
 *   file exists; that file is slapproxy's, not part of the protocol: not checked.
 * - test_destroy_partition / test_destroy_child_partition read slapproxy's `partition` table; we
 *   assert what registerComputerPartition shows of the same rows instead (a busy partition keeps
 *   its software release, title and requested state; a freed one is reported free: 'destroyed',
 *   no software release, `_need_modification` 0).
 *
 * NOT replayed:
 * - TestMultiMasterSupport (testForwardToMasterInList, testForwardToMasterInList_NoDuplicates,
 *   testForwardToMasterNotInList, testForwardRequest_SoftwareReleaseList,
 *   testForwardRequest_SoftwareReleaseList_NoDuplicates, testForwardRequestFromPartition,
 *   testForwardToMasterAndDestroy, testRequestToCurrentMaster,
 *   testRequestExplicitelyOnExternalMasterThenRequestAgain, testRequestsFromPartition_AntiCollision):
 *   multimaster forwarding is not implemented here, and they inspect slapproxy's
 *   forwarded_partition_request table.
 * - TestLocalSoftwareReleaseRootPathMigration (test_supply_local_url, test_supply_not_in_root_url,
 *   test_supply_http_url, test_supply_https_url, test_request_local_url, test_request_not_in_root_url,
 *   test_request_http_url, test_request_https_url, test_supply_multiple_moves,
 *   test_request_multiple_moves, test_move_logs, test_move_to_subpath, test_move_to_superpath,
 *   test_move_initial_exists, test_move_both_exist): slapproxy's rebasing of local software release
 *   paths when its `local_software_release_root` moves, kept in its own `config` table; we have no
 *   such setting.
 * - _MigrationTestCase and TestMigrateVersion10ToLatest … TestMigrateVersion16ToLatest
 *   (test_automatic_migration, and the other classes' tests rerun on a migrated database): they load
 *   slapproxy's SQL dumps of its schema versions 10–16 and inspect the migrated tables; our storage
 *   has its own migrations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMarshal, type MarshalDict } from '../core/xml-marshaller.ts';
import { marshalledAnswer, plainMarshal, slapObjectDict } from '../testing/legacy.ts';
import {
  DEFAULT_COMPUTER,
  SlapPartition,
  softwareReleaseState,
  withLegacyMaster,
  type LegacyMaster,
} from '../testing/legacy-master.ts';

const SR = 'http://sr//';

// ---------------------------------------------------------------- TestLoadComputerConfiguration

/** TestLoadComputerConfiguration.setUp's computer: slappart1 (tap0 1.2.3.4), slappart2 (tap1 5.6.7.8). */
function loadConfigurationComputer(): {
  reference: string;
  address: string;
  netmask: string;
  partition_list: {
    reference: string;
    address_list: { addr: string; netmask: string }[];
    tap: { name: string };
  }[];
} {
  return {
    reference: DEFAULT_COMPUTER,
    address: '12.34.56.78',
    netmask: '255.255.255.255',
    partition_list: [
      {
        reference: 'slappart1',
        address_list: [{ addr: '1.2.3.4', netmask: '255.255.255.255' }],
        tap: { name: 'tap0' },
      },
      {
        reference: 'slappart2',
        address_list: [{ addr: '5.6.7.8', netmask: '255.255.255.255' }],
        tap: { name: 'tap1' },
      },
    ],
  };
}

async function loadComputerConfiguration(master: LegacyMaster, computer: object): Promise<void> {
  const response = await master.post('/loadComputerConfigurationFromXML', {
    computer_id: DEFAULT_COMPUTER,
    xml: encodeMarshal(computer as MarshalDict),
  });
  assert.equal(response.status, 200, response.text);
}

test('TestLoadComputerConfiguration.test_loadComputerConfigurationFromXML_keep_partitions', async () => {
  await withLegacyMaster(async (master) => {
    const computer = loadConfigurationComputer();
    const check = async (): Promise<void> => {
      const information = await master.getFullComputerInformation();
      assert.deepEqual(
        information.partitions
          .filter((partition) => partition.dict['_partition_id'] === 'slappart1')
          .map((partition) => partition.softwareReleaseUri()),
        ['https://example.com/software.cfg'],
      );
    };
    await loadComputerConfiguration(master, computer);
    // The upstream test passes its arguments by position: `shared` gets `{}`, the parameters {'foo': 'bar'}.
    await master.requestRaw('https://example.com/software.cfg', null, 'MyInstance', null, {
      shared: {},
      parameters: { foo: 'bar' },
      state: 'started',
    });
    await check();
    await loadComputerConfiguration(master, computer);
    await check();
  });
});

test('TestLoadComputerConfiguration.test_loadComputerConfigurationFromXML_remove_partitions', async () => {
  await withLegacyMaster(async (master) => {
    const computer = loadConfigurationComputer();
    await loadComputerConfiguration(master, computer);
    const [first] = computer.partition_list;
    assert.ok(first);
    computer.partition_list = [{ ...first, reference: 'something else' }];
    await loadComputerConfiguration(master, computer);
    const information = await master.getFullComputerInformation();
    assert.deepEqual(
      information.partitions.map((partition) => partition.getId()),
      ['something else'],
    );
  });
});

// ---------------------------------------------------------------- TestInformation

test('TestInformation.test_getComputerInformation', async () => {
  await withLegacyMaster(async (master) => {
    const response = await master.get(`/getComputerInformation?computer_id=${DEFAULT_COMPUTER}`);
    slapObjectDict(marshalledAnswer(response), 'Computer');
  });
});

test('TestInformation.test_getFullComputerInformation', async () => {
  await withLegacyMaster(async (master) => {
    const response = await master.get(`/getFullComputerInformation?computer_id=${DEFAULT_COMPUTER}`);
    slapObjectDict(marshalledAnswer(response), 'Computer');
  });
});

test('TestInformation.test_getComputerInformation_wrong_computer', async () => {
  await withLegacyMaster(async (master) => {
    const response = await master.get(`/getComputerInformation?computer_id=${DEFAULT_COMPUTER}42`);
    assert.equal(response.status, 404, response.text);
    // Beyond upstream: the route exists, the 404 is about the node.
    const control = await master.get(`/getComputerInformation?computer_id=${DEFAULT_COMPUTER}`);
    assert.equal(control.status, 200, control.text);
  });
});

test('TestInformation.test_partition_are_empty', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(10);
    const computer = await master.getFullComputerInformation();
    assert.equal(computer.partitions.length, 10);
    for (const partition of computer.partitions) {
      assert.equal(partition.dict['_software_release_document'], null);
      assert.equal(partition.dict['_requested_state'], 'destroyed');
      assert.equal(partition.dict['_need_modification'], 0);
    }
  });
});

test('TestInformation.test_getSoftwareReleaseListFromSoftwareProduct_software_product_reference', async () => {
  await withLegacyMaster(
    async (master) => {
      const response = await master.get(
        '/getSoftwareReleaseListFromSoftwareProduct?software_product_reference=my_product',
      );
      assert.deepEqual(marshalledAnswer(response), ['my_url']);
    },
    { softwareProductList: { my_product: 'my_url' } },
  );
});

test('TestInformation.test_getSoftwareReleaseListFromSoftwareProduct_noSoftwareProduct', async () => {
  await withLegacyMaster(
    async (master) => {
      const response = await master.get(
        '/getSoftwareReleaseListFromSoftwareProduct?software_product_reference=idonotexist',
      );
      assert.deepEqual(marshalledAnswer(response), []);
    },
    { softwareProductList: { random: 'random' } },
  );
});

test('TestInformation.test_getSoftwareReleaseListFromSoftwareProduct_bothParameter', async () => {
  await withLegacyMaster(async (master) => {
    const response = await master.get(
      '/getSoftwareReleaseListFromSoftwareProduct?software_product_reference=foo&software_release_url=bar',
    );
    assert.equal(response.status, 400, response.text);
  });
});

test('TestInformation.test_getSoftwareReleaseListFromSoftwareProduct_noParameter', async () => {
  await withLegacyMaster(async (master) => {
    const response = await master.get('/getSoftwareReleaseListFromSoftwareProduct');
    assert.equal(response.status, 400, response.text);
  });
});

test('TestInformation.test_getComputerPartitionCertificate', async () => {
  await withLegacyMaster(async (master) => {
    const response = await master.get(
      `/getComputerPartitionCertificate?computer_id=${DEFAULT_COMPUTER}&computer_partition_id=slappart0`,
    );
    assert.deepEqual(plainMarshal(marshalledAnswer(response)), { certificate: '', key: '' });
  });
});

test('TestInformation.test_computerBang', async () => {
  await withLegacyMaster(async (master) => {
    // The upstream test POSTs with the computer in the query string and no body at all.
    const response = await master.post(`/computerBang?computer_id=${DEFAULT_COMPUTER}`);
    assert.equal(marshalledAnswer(response), '');
  });
});

// ---------------------------------------------------------------- TestSoftwareInstallation

/** `self.id()` of a TestSoftwareInstallation test: its software release URL. */
function installationUrl(name: string): string {
  return `slapos.tests.test_slapproxy.TestSoftwareInstallation.${name}`;
}

async function assertSoftwareState(master: LegacyMaster, state: string): Promise<void> {
  const { softwareReleases } = await master.getFullComputerInformation();
  assert.equal(softwareReleases.length, 1);
  const [release] = softwareReleases;
  assert.ok(release);
  assert.equal(softwareReleaseState(release), state);
}

async function reportSoftware(master: LegacyMaster, path: string, url: string): Promise<void> {
  const response = await master.post(path, { url, computer_id: DEFAULT_COMPUTER });
  assert.equal(response.status, 200, response.text);
}

test('TestSoftwareInstallation.test_installation_success', async () => {
  await withLegacyMaster(async (master) => {
    const url = installationUrl('test_installation_success');
    await master.supply(url);
    await assertSoftwareState(master, 'available');
    await reportSoftware(master, '/buildingSoftwareRelease', url);
    // No intermediate "building" state: the state is the requested state.
    await assertSoftwareState(master, 'available');
    await reportSoftware(master, '/availableSoftwareRelease', url);
    await assertSoftwareState(master, 'available');
  });
});

test('TestSoftwareInstallation.test_installation_failed', async () => {
  await withLegacyMaster(async (master) => {
    const url = installationUrl('test_installation_failed');
    await master.supply(url);
    await assertSoftwareState(master, 'available');
    await reportSoftware(master, '/buildingSoftwareRelease', url);
    await assertSoftwareState(master, 'available');
    // As upstream: no error_log field.
    await master.post('/softwareReleaseError', { url, computer_id: DEFAULT_COMPUTER });
    await assertSoftwareState(master, 'available');
  });
});

test('TestSoftwareInstallation.test_destroyed', async () => {
  await withLegacyMaster(async (master) => {
    const url = installationUrl('test_destroyed');
    await master.supply(url);
    await assertSoftwareState(master, 'available');
    await master.supply(url, DEFAULT_COMPUTER, 'destroyed');
    await assertSoftwareState(master, 'destroyed');
    await reportSoftware(master, '/destroyedSoftwareRelease', url);
    // This really removes the software installation.
    assert.deepEqual((await master.getFullComputerInformation()).softwareReleases, []);
  });
});

// ---------------------------------------------------------------- TestRequest

test('TestRequest.test_request_consistent_parameters', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    const partition = await master.request(SR, null, 'MyFirstInstance', 'slappart0');
    assert.equal(await partition.getState(), 'started');
    assert.equal(await partition.getInstanceGuid(), 'computer-slappart0');
  });
});

test('TestRequest.test_two_request_one_partition_free', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(3);
    const parent = [
      await master.request(SR, null, 'MyFirstInstance'),
      await master.request(SR, null, 'MySecondInstance'),
    ] as const;
    assert.ok((await master.request(SR, null, 'foo', parent[0].getId())) instanceof SlapPartition);
    const response = await master.requestRaw(SR, null, 'foo', parent[1].getId());
    assert.equal(response.status, 404, response.text);
  });
});

test('TestRequest.test_two_request_two_partition_free', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    const first = await master.request(SR, null, 'MyFirstInstance', 'slappart2');
    const second = await master.request(SR, null, 'MyFirstInstance', 'slappart3');
    // Beyond upstream (both succeed): neither slappart2 nor slappart3 exists, so both are root
    // requests of the same instance.
    assert.equal(first.getId(), second.getId());
  });
});

test('TestRequest.test_two_same_request_from_one_partition', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    const doRequest = (): Promise<SlapPartition> => master.request(SR, null, 'MyFirstInstance', 'slappart2');
    const requestedAt = master.clock.now();
    const partition = await doRequest();
    assert.ok(requestedAt <= partition.timestamp);
    master.clock.advance(0.1); // the timestamp must not change for an identical request
    assert.deepEqual((await doRequest()).dict, partition.dict);
  });
});

test('TestRequest.test_instance_bang', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(3);
    const requestedAt = master.clock.now();
    const parent = await master.request(SR, null, 'MyFirstInstance');
    const child = await master.request(SR, null, 'MySubInstance', parent.getId());
    const other = await master.request(SR, null, 'AnotherInstance');
    for (const partition of [parent, child, other]) assert.ok(requestedAt <= partition.timestamp);
    const otherTimestamp = other.parameterDict['timestamp'];
    const timestampOf = async (partition: SlapPartition): Promise<unknown> =>
      (await master.getPartitionInformation(partition.getId()))?.parameterDict['timestamp'];
    for (const partition of [parent, child]) {
      master.clock.advance(0.1);
      const bangAt = master.clock.now();
      const response = await master.post('/softwareInstanceBang', {
        computer_id: DEFAULT_COMPUTER,
        computer_partition_id: partition.getId(),
        message: `slapos.tests.test_slapproxy.TestRequest.test_instance_bang`,
      });
      assert.equal(response.status, 200, response.text);
      const timestamp = await timestampOf(parent);
      assert.ok(requestedAt <= Number(timestamp));
      // Beyond upstream: the bang is what moved it (the clock only moves when this test says so).
      assert.equal(Number(timestamp), bangAt);
      assert.equal(await timestampOf(child), timestamp);
      assert.equal(await timestampOf(other), otherTimestamp);
    }
  });
});

test('TestRequest.test_request_propagate_partition_state', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    const requestParent = (state?: string): Promise<SlapPartition> =>
      master.request(SR, null, 'MyFirstInstance', null, state === undefined ? {} : { state });
    let parent = await requestParent();
    const parentId = parent.getId();
    const requestChild = (): Promise<SlapPartition> => master.request(SR, null, 'MySubInstance', parentId);
    let child = await requestChild();
    assert.equal(await parent.getState(), 'started');
    assert.equal(await child.getState(), 'started');
    for (const state of ['stopped', 'started']) {
      parent = await requestParent(state);
      child = await requestChild();
      assert.equal(await parent.getState(), state);
      assert.equal(await child.getState(), state);
    }
  });
});

test('TestRequest.test_request_parent_started_children_stopped', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    let parent = await master.request(SR, null, 'MyFirstInstance');
    const parentId = parent.getId();
    let child = await master.request(SR, null, 'MySubInstance', parentId);
    assert.equal(await parent.getState(), 'started');
    assert.equal(await child.getState(), 'started');
    parent = await master.request(SR, null, 'MyFirstInstance');
    child = await master.request(SR, null, 'MySubInstance', parentId, { state: 'stopped' });
    assert.equal(await parent.getState(), 'started');
    assert.equal(await child.getState(), 'stopped');
  });
});

/** The full-information partition of a request's answer (it exists: the request got it). */
async function informationOf(master: LegacyMaster, partition: SlapPartition): Promise<SlapPartition> {
  const information = await master.getPartitionInformation(partition.getId());
  assert.ok(information, `partition ${partition.getId()} is listed`);
  return information;
}

test('TestRequest.test_two_requests_with_different_parameters_but_same_reference', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    const request1 = await master.request(SR, null, 'MyFirstInstance', 'slappart2', {
      parameters: { domain: 'fou.org' },
    });
    const result1 = await informationOf(master, request1);
    master.clock.advance(0.1); // so that the timestamp changes
    const request2 = await master.request(SR, 'Papa', 'MyFirstInstance', 'slappart2', {
      parameters: { domain: 'carzy.org' },
    });
    const result2 = await informationOf(master, request2);
    // The same partition…
    for (const key of ['_partition_id', '_computer_id'])
      assert.deepEqual(request2.dict[key], request1.dict[key]);
    // … where only the parameters changed.
    for (const key of Object.keys(result2.dict)) {
      if (key === '_software_release_document') {
        assert.deepEqual(result2.softwareReleaseDocument, result1.softwareReleaseDocument);
      } else if (key !== '_parameter_dict') {
        assert.deepEqual(result2.dict[key], result1.dict[key], key);
      }
    }
    assert.equal(result1.parameterDict['domain'], 'fou.org');
    assert.equal(result2.parameterDict['domain'], 'carzy.org');
    const t1 = request1.parameterDict['timestamp'];
    const t2 = request2.parameterDict['timestamp'];
    assert.ok(Number(t1) < Number(t2), `${JSON.stringify(t1)} < ${JSON.stringify(t2)}`);
    assert.equal(result1.parameterDict['timestamp'], t1);
    assert.equal(result2.parameterDict['timestamp'], t2);
  });
});

test('TestRequest.test_two_requests_with_different_parameters_and_sr_url_but_same_reference', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    const request1 = await master.request(SR, null, 'MyFirstInstance', 'slappart2', {
      parameters: { domain: 'fou.org' },
    });
    const result1 = await informationOf(master, request1);
    const request2 = await master.request('http://sr1//', 'Papa', 'MyFirstInstance', 'slappart2', {
      parameters: { domain: 'carzy.org' },
    });
    const result2 = await informationOf(master, request2);
    for (const key of ['_partition_id', '_computer_id'])
      assert.deepEqual(request2.dict[key], request1.dict[key]);
    for (const key of Object.keys(result2.dict)) {
      if (key === '_software_release_document') {
        // The software release is updated.
        assert.equal(result2.softwareReleaseDocument?.['_software_release'], 'http://sr1//');
        assert.equal(result1.softwareReleaseDocument?.['_software_release'], SR);
      } else if (key !== '_parameter_dict') {
        assert.deepEqual(result2.dict[key], result1.dict[key], key);
      }
    }
    assert.equal(result1.parameterDict['domain'], 'fou.org');
    assert.equal(result2.parameterDict['domain'], 'carzy.org');
  });
});

test('TestRequest.test_request_with_nonascii_parameters', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    const partition = await master.request(SR, null, 'myinstance', 'slappart0', {
      parameters: { text: 'Привет Мир!' },
    });
    // Beyond upstream (which checks the answer is a partition): the text comes back intact.
    assert.equal(partition.parameterDict['text'], 'Привет Мир!');
  });
});

test('TestRequest.test_request_with_int', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    const partition = await master.request(SR, null, 'myinstance', 'slappart0', { parameters: { int: 1 } });
    // Beyond upstream: instance parameters come back as strings.
    assert.equal(partition.parameterDict['int'], '1');
  });
});

test('TestRequest.test_request_set_connection_parameters_with_int', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    const partitionId = (await master.request(SR, null, 'myinstance')).getId();
    assert.ok(await master.getPartitionInformation(partitionId));
    const response = await master.setConnectionDict(partitionId, { foo: 1 });
    assert.equal(response.status, 200, response.text);
    const partition = await master.request(SR, null, 'myinstance');
    assert.equal(await partition.getConnectionParameter('foo'), '1');
  });
});

const APACHE_FRONTEND =
  'http://git.erp5.org/gitweb/slapos.git/blob_plain/HEAD:/software/apache-frontend/software.cfg';
const KVM_FRONTEND =
  'http://git.erp5.org/gitweb/slapos.git/blob_plain/refs/tags/slapos-0.92:/software/kvm/software.cfg';
const BACKEND_URL = 'https://[::1]:123/my/path?my=query&string=value#myanchor';

test('TestRequest.test_request_frontend', async () => {
  await withLegacyMaster(async (master) => {
    // slapproxy tells the client to bypass "simple" frontends by just using the URL.
    const partition = await master.request(
      APACHE_FRONTEND,
      null,
      'TestRequest.test_request_frontend',
      'slappart0',
      {
        shared: true,
        parameters: { url: BACKEND_URL },
      },
    );
    const connection = await partition.getConnectionParameterDict();
    assert.equal(connection['secure_access'], BACKEND_URL);
    assert.equal(connection['domain'], '[::1]:123');
  });
});

test('TestRequest.test_request_frontend_with_secure_access', async () => {
  await withLegacyMaster(async (master) => {
    // Flask's test client calls the proxy "localhost"; over HTTP that is the Host header.
    const partition = await master.request(
      APACHE_FRONTEND,
      null,
      'TestRequest.test_request_frontend_with_secure_access',
      'slappart0',
      {
        shared: true,
        parameters: { url: BACKEND_URL },
        headers: { 'X-Forwarded-Proto': 'https', Host: 'localhost' },
      },
    );
    const connection = await partition.getConnectionParameterDict();
    assert.equal(
      connection['secure_access'],
      'https://localhost/http_proxy/https/%5B::1%5D:123/my/path?my=query&string=value#myanchor',
    );
    assert.equal(connection['domain'], 'localhost');
  });
});

test('TestRequest.test_request_kvm_frontend', async () => {
  await withLegacyMaster(async (master) => {
    // slapproxy tells the client to bypass kvm vnc frontends by building a URL from the backend.
    const partition = await master.request(
      KVM_FRONTEND,
      'frontend',
      'TestRequest.test_request_kvm_frontend',
      'slappart0',
      {
        shared: true,
        parameters: { host: '::1', port: '123' },
      },
    );
    const connection = await partition.getConnectionParameterDict();
    assert.equal(connection['url'], 'https://[::1]:123/');
    assert.equal(connection['domainname'], '[::1]');
    assert.equal(connection['port'], '123');
    assert.equal(connection['path'], '/');
  });
});

/** registerComputerPartition's partition: what the node (and the Python client's fetch) reads. */
async function registeredPartition(master: LegacyMaster, partitionId: string): Promise<SlapPartition> {
  const answer = marshalledAnswer(
    await master.get('/registerComputerPartition', {
      computer_reference: DEFAULT_COMPUTER,
      computer_partition_reference: partitionId,
    }),
  );
  return new SlapPartition(master, slapObjectDict(answer, 'ComputerPartition'));
}

/** The upstream rows (slap_state, requested_state, …) as registerComputerPartition reports them. */
async function assertBusy(
  master: LegacyMaster,
  partitionId: string,
  expected: { state: string; title: string; rootTitle: string },
): Promise<void> {
  const partition = await registeredPartition(master, partitionId);
  assert.equal(partition.dict['_need_modification'], 1, `${partitionId} is busy`);
  assert.equal(await partition.getState(), expected.state);
  assert.equal(partition.softwareReleaseUri(), SR);
  assert.equal(partition.parameterDict['instance_title'], expected.title);
  assert.equal(partition.parameterDict['root_instance_title'], expected.rootTitle);
}

async function assertFree(master: LegacyMaster, partitionId: string): Promise<void> {
  const partition = await registeredPartition(master, partitionId);
  assert.equal(partition.dict['_need_modification'], 0, `${partitionId} is free`);
  assert.equal(partition.dict['_requested_state'], 'destroyed');
  assert.equal(partition.dict['_software_release_document'], null);
  assert.equal('_parameter_dict' in partition.dict, false);
}

test('TestRequest.test_destroy_partition', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    let partition = await master.request(SR, null, 'MyFirstInstance');
    assert.equal(await partition.getState(), 'started');
    partition = await master.request(SR, null, 'MyFirstInstance', null, { state: 'destroyed' });
    assert.equal(await partition.getState(), 'destroyed');
    await assertBusy(master, partition.getId(), {
      state: 'destroyed',
      title: 'MyFirstInstance',
      rootTitle: 'MyFirstInstance',
    });
    const response = await partition.destroyed(); // what `slapos node report` calls
    assert.equal(response.status, 200, response.text);
    // Now the partition is free…
    await assertFree(master, partition.getId());
    // … and can be requested again.
    await master.request(SR, null, 'Another instance');
  });
});

test('TestRequest.test_destroy_child_partition', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(2);
    let parent = await master.request(SR, null, 'MyFirstInstance');
    const child = await master.request(SR, null, 'MySubInstance', parent.getId());
    assert.equal(await parent.getState(), 'started');
    assert.equal(await child.getState(), 'started');
    parent = await master.request(SR, null, 'MyFirstInstance', null, { state: 'destroyed' });
    const root = { title: 'MyFirstInstance', rootTitle: 'MyFirstInstance' };
    const sub = { title: 'MySubInstance', rootTitle: 'MyFirstInstance' };
    await assertBusy(master, parent.getId(), { ...root, state: 'destroyed' });
    await assertBusy(master, child.getId(), { ...sub, state: 'started' });
    // Destroying the parent partition first marks the partitions of its tree destroyed.
    const refused = await parent.destroyed();
    assert.equal(refused.status, 200, refused.text);
    await assertBusy(master, parent.getId(), { ...root, state: 'destroyed' });
    await assertBusy(master, child.getId(), { ...sub, state: 'destroyed' });
    for (const partition of [parent, child, parent]) {
      const response = await partition.destroyed();
      assert.equal(response.status, 200, response.text);
    }
    await assertFree(master, parent.getId());
    await assertFree(master, child.getId());
  });
});
