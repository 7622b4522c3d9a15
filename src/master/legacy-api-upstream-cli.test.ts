/**
 * slapproxy's legacy tests TestCliInformation (slapos/tests/test_slapproxy.py) replayed over real HTTP
 * against our master in proxy mode. Upstream runs the Python `slapos computer list|info` and
 * `slapos service list|info` against the proxy; here we make the HATEOAS calls those commands make
 * (slapos/slap/hateoas.py's navigator with `master_rest_url = <master>/hateoas`, the uritemplate
 * expansions, the redirects `requests` follows) and build from the answers what each command prints,
 * then assert what the upstream test asserts on that output. How the other classes are replayed, and
 * what is not: see the header of legacy-api-upstream.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeParameterXml } from '../core/parameter-xml.ts';
import { legacyCall, percentEncode, type LegacyResponse } from '../testing/legacy.ts';
import { withLegacyMaster, type LegacyMaster } from '../testing/legacy-master.ts';

/** An answer of the HATEOAS API that `requests` would turn into HTTPError. */
class HttpError extends Error {
  constructor(readonly response: LegacyResponse) {
    super(`HTTPError: ${response.status}: ${response.text.slice(0, 300)}`);
  }
}

/** NotFoundError as slap.py raises it when a document is missing from the search. */
class NotFoundError extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** ConnectionHelper.GET of an absolute URL, following redirects as `requests` does (at most 30). */
async function getFollowing(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ response: LegacyResponse; redirects: { status: number; location: string }[] }> {
  const redirects: { status: number; location: string }[] = [];
  let current = url;
  for (let hop = 0; hop <= 30; hop++) {
    const response = await legacyCall(current, 'GET', '', { headers });
    const location = response.headers['location'];
    if (!REDIRECTS.has(response.status) || typeof location !== 'string') {
      if (response.status >= 400) throw new HttpError(response);
      return { response, redirects };
    }
    redirects.push({ status: response.status, location });
    const next = new URL(location, current);
    assert.ok(['127.0.0.1', 'localhost'].includes(next.hostname), `redirected off loopback: ${next.href}`);
    current = next.href;
  }
  throw new Error(`too many redirects from ${url}`);
}

/** python-uritemplate's expansion of `{name}` (simple string expansion; lists joined with ','). */
function expandTemplate(
  template: string,
  values: Readonly<Record<string, string | readonly string[]>>,
): string {
  return template.replace(/\{([^}]*)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) return '';
    return (typeof value === 'string' ? [value] : value).map((item) => percentEncode(item)).join(',');
  });
}

interface FormData {
  [key: string]: unknown;
}

/** The client side of the minimal HATEOAS API: SlapHateoasNavigator, as far as the CLI uses it. */
class HateoasNavigator {
  private rootDocument: { _links: { raw_search: { href: string }; traverse: { href: string } } } | undefined;

  constructor(private readonly restUrl: string) {}

  private async root(): Promise<NonNullable<HateoasNavigator['rootDocument']>> {
    if (!this.rootDocument) {
      const { response } = await getFollowing(this.restUrl, { 'Cache-Control': 'no-cache' });
      this.rootDocument = JSON.parse(response.text) as NonNullable<HateoasNavigator['rootDocument']>;
    }
    return this.rootDocument;
  }

  /** jio_allDocs: the rows of a search (the client's `limit` has no slot in the template). */
  async search(query: string, selectList: readonly string[]): Promise<Record<string, unknown>[]> {
    const template = (await this.root())._links.raw_search.href;
    const url = expandTemplate(template, { query, select_list: selectList, limit: '40' });
    const { response } = await getFollowing(url);
    const answer = JSON.parse(response.text) as { _embedded: { contents: Record<string, unknown>[] } };
    return answer._embedded.contents;
  }

  /** jio_get: the document at a relative URL, reached through `traverse`, as form data. */
  async get(relativeUrl: string): Promise<FormData> {
    const template = (await this.root())._links.traverse.href;
    const url = expandTemplate(template, { relative_url: relativeUrl, view: 'slaposjs_view' });
    const { response, redirects } = await getFollowing(url);
    assert.equal(redirects[0]?.status, 302, 'traverse redirects to the document');
    const document = JSON.parse(response.text) as {
      _embedded: { _view: Record<string, { type: string; key: string; default?: unknown }> };
      _links: { type: { name: string } };
    };
    // _extractPropertyFromFormDict: the my_/your_ fields of the allowed types, by their defaults.
    const data: FormData = { portal_type: document._links.type.name };
    for (const [key, field] of Object.entries(document._embedded._view)) {
      const name = key.startsWith('my_') ? key.slice(3) : key.startsWith('your_') ? key.slice(5) : undefined;
      if (name === undefined) continue;
      if (['StringField', 'EmailField', 'IntegerField', 'FloatField', 'TextAreaField'].includes(field.type)) {
        data[name] = field.default ?? null;
      }
    }
    return data;
  }
}

const COMPUTER_LIST = 'portal_type:"Compute Node" AND validation_state:validated';
const SERVICE_LIST = 'portal_type:"Instance Tree" AND validation_state:validated';

function navigator(master: LegacyMaster): HateoasNavigator {
  // The upstream configuration: master_rest_url = <master>/hateoas
  return new HateoasNavigator(`${master.url}/hateoas`);
}

/** `slapos computer list`: its output lines. */
async function computerList(master: LegacyMaster): Promise<string[]> {
  const rows = await navigator(master).search(COMPUTER_LIST, ['title', 'reference']);
  const byTitle = new Map(rows.map((row) => [String(row['title']), row]));
  if (byTitle.size === 0) return ['No existing computer.'];
  return [
    'List of Computers:',
    ...[...byTitle].map(([title, row]) => `${String(row['reference'])} ${title}`),
  ];
}

/** `slapos computer info <reference>`: its output lines. */
async function computerInfo(master: LegacyMaster, reference: string): Promise<string[]> {
  const hateoas = navigator(master);
  const rows = await hateoas.search(`${COMPUTER_LIST} AND reference:="${reference}"`, [
    'reference',
    'relative_url',
  ]);
  assert.ok(rows.length <= 1, 'There are more them one Computer for this reference');
  const row = rows.find((candidate) => candidate['reference'] === reference);
  if (!row) throw new NotFoundError('This computer does not exist.');
  const data = await hateoas.get(String(row['relative_url']));
  return [`Computer Reference: ${String(data['reference'])}`, `Computer Title    : ${String(data['title'])}`];
}

/** `slapos service list`: the JSON it prints, title → software release. */
async function serviceList(master: LegacyMaster): Promise<Record<string, unknown>> {
  const rows = await navigator(master).search(SERVICE_LIST, ['title', 'url_string']);
  return Object.fromEntries(rows.map((row) => [String(row['title']), row['url_string']]));
}

/** xml2dict of a parameter XML document, or of null. */
function xml2dict(xml: unknown): Record<string, unknown> {
  assert.ok(xml === null || typeof xml === 'string', `parameter XML or null, got ${JSON.stringify(xml)}`);
  return { ...decodeParameterXml(xml) };
}

/** OpenOrder.getInformation's parameters: a lone json-in-xml `_` is decoded for display. */
function instanceParameters(xml: unknown): Record<string, unknown> {
  const parameters = xml2dict(xml);
  if (Object.keys(parameters).length === 1 && typeof parameters['_'] === 'string') {
    parameters['_'] = JSON.parse(parameters['_']) as unknown;
  }
  return parameters;
}

/** `slapos service info`'s connection parameters: json-in-xml (the default when the schema is unreachable). */
function connectionParameters(xml: unknown): unknown {
  const connection = xml2dict(xml);
  return typeof connection['_'] === 'string' ? (JSON.parse(connection['_']) as unknown) : connection;
}

/** `slapos service info <reference>`: the JSON it prints. */
async function serviceInfo(master: LegacyMaster, reference: string): Promise<Record<string, unknown>> {
  const hateoas = navigator(master);
  const rows = await hateoas.search(`${SERVICE_LIST} AND title:="${reference}"`, ['title', 'relative_url']);
  assert.ok(rows.length <= 1, 'There are more them one Instance Tree for this reference');
  const row = rows.find((candidate) => candidate['title'] === reference);
  if (!row) throw new NotFoundError(`Instance ${reference} does not exist.`);
  const data = await hateoas.get(String(row['relative_url']));
  return {
    'software-url': data['url_string'],
    'software-type': data['source_reference'],
    shared: Boolean(data['root_slave']),
    'requested-state': data['slap_state'],
    'instance-parameters': instanceParameters(data['text_content'] ?? null),
    'connection-parameters': connectionParameters(data['connection_parameter_list'] ?? null),
    status: 'unsupported', // no news on slapproxy
  };
}

async function rejectsWith(promise: Promise<unknown>, check: (error: unknown) => boolean): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(check(error), `unexpected error ${String(error)}`);
    return true;
  });
}

test('TestCliInformation.test_computer_list', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    await master.formatForNumberOfPartitions(1, 'COMP-1');
    await master.formatForNumberOfPartitions(1, 'COMP-2');
    const output = await computerList(master);
    assert.equal(output.length, 4);
    assert.equal(output[0], 'List of Computers:');
    assert.deepEqual(output.slice(1).sort(), ['COMP-1 COMP-1', 'COMP-2 COMP-2', 'computer computer']);
  });
});

test('TestCliInformation.test_computer_info', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    await master.formatForNumberOfPartitions(1, 'COMP-1');
    await master.formatForNumberOfPartitions(1, 'COMP-2');
    for (const reference of ['computer', 'COMP-1', 'COMP-2']) {
      assert.deepEqual(await computerInfo(master, reference), [
        `Computer Reference: ${reference}`,
        `Computer Title    : ${reference}`,
      ]);
    }
  });
});

test('TestCliInformation.test_service_list', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(4);
    await master.request('http://sr0//', null, 'MyInstance0', null);
    await master.request('http://sr1//', null, 'MyInstance1', null);
    await master.request('http://sr2//', null, 'MyInstance2', null);
    await master.request('http://sr3//', null, 'MyInstance3', 'slappart0');
    assert.deepEqual(await serviceList(master), {
      MyInstance0: 'http://sr0//',
      MyInstance1: 'http://sr1//',
      MyInstance2: 'http://sr2//',
    });
  });
});

test('TestCliInformation.test_service_list_with_shared', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    await master.request('http://sr0//', null, 'MyHostInstance0');
    await master.request('http://sr0//', null, 'MySharedInstance1', null, { shared: true });
    await master.request('http://sr0//', null, 'MySharedInstance2', null, { shared: true });
    assert.deepEqual(await serviceList(master), {
      MyHostInstance0: 'http://sr0//',
      MySharedInstance1: 'http://sr0//',
      MySharedInstance2: 'http://sr0//',
    });
  });
});

test('TestCliInformation.test_service_info', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(3);
    await master.request('http://sr0//', null, 'MyInstance0', null);
    await master.request('http://sr1//', 'MyType1', 'MyInstance1', null, {
      parameters: { couscous: 'hello' },
    });
    await master.request('http://sr2//', null, 'MyInstance2', 'slappart0');
    assert.deepEqual(await serviceInfo(master, 'MyInstance0'), {
      'software-url': 'http://sr0//',
      'software-type': 'default',
      shared: false,
      'requested-state': 'started',
      'instance-parameters': {},
      'connection-parameters': {},
      status: 'unsupported',
    });
    assert.deepEqual(await serviceInfo(master, 'MyInstance1'), {
      'software-url': 'http://sr1//',
      'software-type': 'MyType1',
      shared: false,
      'requested-state': 'started',
      'instance-parameters': { couscous: 'hello' },
      'connection-parameters': {},
      status: 'unsupported',
    });
    // MyInstance2 is a child of MyInstance0, not a service of its own.
    await rejectsWith(
      serviceInfo(master, 'MyInstance2'),
      (error) => error instanceof NotFoundError && error.message === 'Instance MyInstance2 does not exist.',
    );
  });
});

test('TestCliInformation.test_service_info_with_shared', async () => {
  await withLegacyMaster(async (master) => {
    await master.formatForNumberOfPartitions(1);
    await master.request('http://sr0//', 'MyType1', 'MyHostInstance0', null);
    for (const [title, couscous] of [
      ['MySharedInstance1', 'hello'],
      ['MySharedInstance2', 'bye'],
    ] as const) {
      await master.request('http://sr0//', 'MyType1', title, null, {
        shared: true,
        parameters: { couscous },
      });
    }
    for (const [title, couscous] of [
      ['MySharedInstance1', 'hello'],
      ['MySharedInstance2', 'bye'],
    ] as const) {
      assert.deepEqual(await serviceInfo(master, title), {
        'software-url': 'http://sr0//',
        'software-type': 'MyType1',
        shared: true,
        'requested-state': 'unused',
        'instance-parameters': { couscous },
        'connection-parameters': {},
        status: 'unsupported',
      });
    }
  });
});

const isBadRequest = (error: unknown): boolean => error instanceof HttpError && error.response.status === 400;

test('TestCliInformation.test_invalid_service_names', async () => {
  await withLegacyMaster(async (master) => {
    const names = [
      '"MyInstance0',
      'MyInstance1"',
      'My"Instance2',
      'title:="MyInstance3"',
      'reference:="MyInstance4"',
    ];
    await master.formatForNumberOfPartitions(names.length);
    for (const [index, name] of names.entries()) await master.request(`http://sr${index}//`, null, name);
    for (const name of names) await rejectsWith(serviceInfo(master, name), isBadRequest);
  });
});

test('TestCliInformation.test_invalid_computer_names', async () => {
  await withLegacyMaster(async (master) => {
    const names = ['"COMP-0', 'COMP-1"', 'COMP"-2', 'title:="COMP-3"', 'reference:="COMP-4"'];
    for (const name of names) await master.formatForNumberOfPartitions(1, name);
    for (const name of names) await rejectsWith(computerInfo(master, name), isBadRequest);
  });
});
