/**
 * The instance timeline and the promise history, through the use cases, on the store this run tests
 * (SLAPOS_TEST_STORE): one event per change, none for a report that changes nothing, the oldest
 * dropped past the cap, hostile text kept exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import {
  MAX_EVENT_DETAIL_BYTES,
  MAX_EVENTS_PER_INSTANCE,
  MAX_PROMISE_EVENTS_PER_INSTANCE,
  truncateUtf8,
} from '../../core/instance-events.ts';
import { TEXT_RULES, textProblem } from '../../core/text-rules.ts';
import { silentLogger } from '../../lib/logger.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { openMasterModeServices } from '../../testing/master-mode-services.ts';
import { openTestStore } from '../../testing/test-database.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
  type Caller,
  type MasterServices,
  type PromiseResult,
} from './index.ts';
import type { MasterStore } from '../storage/repository.ts';

const SR = 'https://example.com/software.cfg';

interface World {
  services: MasterServices;
  store: MasterStore;
  clock: ReturnType<typeof fixedClock>;
  request: (
    title: string,
    options?: {
      parameters?: Record<string, unknown>;
      state?: 'started' | 'stopped' | 'destroyed';
      requester?: string;
    },
  ) => ReturnType<MasterServices['requestInstance']>;
  kinds: (instanceGuid: string) => Promise<string[]>;
}

/** Proxy-mode services on a fresh store, with a node `computer` of `partitions` partitions. */
async function withWorld(partitions: number, work: (world: World) => Promise<void>): Promise<void> {
  const { store, close } = await openTestStore();
  try {
    const clock = fixedClock(1_700_000_000);
    const services = createMasterServices(
      createServiceContext({
        store,
        clock,
        logger: silentLogger(),
        defaultComputeNodeId: 'computer',
        authorizer: proxyModeAuthorizer,
      }),
    );
    await services.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: 'computer',
        address: null,
        netmask: null,
        partitions: Array.from({ length: partitions }, (_, n) => ({ reference: `p${n}`, addresses: [] })),
      },
    });
    await work({
      services,
      store,
      clock,
      request: (title, options = {}) =>
        services.requestInstance({
          caller: LOCAL_CALLER,
          title,
          softwareRelease: SR,
          softwareType: 'default',
          parameters: options.parameters ?? {},
          shared: false,
          state: options.state ?? 'started',
          sla: {},
          ...(options.requester
            ? { requester: { computeNodeId: 'computer', partitionId: options.requester } }
            : {}),
        }),
      // Oldest first, as people read a story.
      kinds: async (instanceGuid) =>
        (await services.readInstanceTimeline({ caller: LOCAL_CALLER, instanceGuid }))
          .map((event) => (event.detail === null ? event.kind : `${event.kind}: ${event.detail}`))
          .reverse(),
    });
  } finally {
    await close();
  }
}

/** Free text as the edge accepts it (no NUL, no unpaired surrogate): what reaches the use cases. */
function acceptedText(random: () => number): string {
  for (;;) {
    const text = hostileString(random);
    if (textProblem(text, TEXT_RULES.freeText) === undefined) return text;
  }
}

test('the timeline tells the story of an instance, one event per change', async () => {
  await withWorld(2, async ({ services, clock, request, kinds }) => {
    const { instanceGuid } = await request('web', { parameters: { a: '1' } });
    const tick = () => clock.advance(1);
    const report = (reportedState: 'started' | 'stopped') =>
      services.reportInstanceState({ caller: LOCAL_CALLER, instanceGuid, reportedState });
    const error = (message: string) =>
      services.reportInstanceError({ caller: LOCAL_CALLER, instanceGuid, message });
    const publish = (parameters: Record<string, unknown>) =>
      services.setConnectionParameters({ caller: LOCAL_CALLER, instanceGuid, parameters });
    for (let pass = 0; pass < 3; pass++) {
      tick();
      await report('started');
    }
    tick();
    await request('web', { parameters: { a: '1' } });
    tick();
    await publish({ url: 'http://[::1]:8080/secret-token' });
    tick();
    await publish({ url: 'http://[::1]:8080/secret-token' });
    tick();
    await request('web', { parameters: { a: '2' } });
    tick();
    await error('buildout failed');
    tick();
    await error('buildout failed');
    for (let pass = 0; pass < 2; pass++) {
      tick();
      await report('started');
    }
    tick();
    await error('buildout failed');
    tick();
    await request('web', { parameters: { a: '2' }, state: 'stopped' });
    for (let pass = 0; pass < 2; pass++) {
      tick();
      await report('stopped');
    }
    tick();
    await services.bangInstance({ caller: LOCAL_CALLER, instanceGuid, message: 'promise <b>' });
    assert.deepEqual(await kinds(instanceGuid), [
      'requested',
      'allocated: computer/p0',
      'deployed',
      'published',
      'parameters_changed: parameters',
      'failed: buildout failed',
      'deployed',
      'failed: buildout failed',
      'stop_requested',
      'stopped',
      'bang: promise <b>',
    ]);
    const events = await services.readInstanceTimeline({ caller: LOCAL_CALLER, instanceGuid, limit: 2 });
    assert.deepEqual(
      events.map((event) => [event.kind, event.at]),
      [
        ['bang', clock.now()],
        ['stopped', clock.now() - 2],
      ],
    );
    for (const limit of [0, -1, 1.5, MAX_EVENTS_PER_INSTANCE + 1, Number.NaN])
      await assert.rejects(
        services.readInstanceTimeline({ caller: LOCAL_CALLER, instanceGuid, limit }),
        (caught: unknown) => (caught as { code?: string }).code === 'SLAP_ERR_INVALID_INPUT',
      );
  });
});

test('property: a report or request repeated as it is adds no event', async () => {
  await withWorld(1, async ({ services, clock, request }) => {
    const { instanceGuid } = await request('web');
    const random = seededRandom(10);
    const count = async () =>
      (await services.readInstanceTimeline({ caller: LOCAL_CALLER, instanceGuid })).length;
    const operations: (() => Promise<unknown>)[] = [
      () => services.reportInstanceState({ caller: LOCAL_CALLER, instanceGuid, reportedState: 'started' }),
      () => services.reportInstanceState({ caller: LOCAL_CALLER, instanceGuid, reportedState: 'stopped' }),
      () => services.reportInstanceError({ caller: LOCAL_CALLER, instanceGuid, message: 'boom' }),
      () => services.reportInstanceError({ caller: LOCAL_CALLER, instanceGuid, message: 'bust' }),
      () => services.setConnectionParameters({ caller: LOCAL_CALLER, instanceGuid, parameters: { k: 'v' } }),
      () => services.setConnectionParameters({ caller: LOCAL_CALLER, instanceGuid, parameters: { k: 'w' } }),
      () => request('web', { parameters: { p: '1' } }),
      () => request('web', { parameters: { p: '2' }, state: 'stopped' }),
    ];
    for (let step = 0; step < 300; step++) {
      const operation = operations[Math.floor(random() * operations.length)] as () => Promise<unknown>;
      // Time moves on (or not: a clock's resolution) between the calls.
      if (random() < 0.5) clock.advance(random());
      await operation();
      const after = await count();
      for (let again = Math.floor(random() * 3) + 1; again > 0; again--) {
        if (random() < 0.5) clock.advance(random());
        await operation();
      }
      assert.equal(
        await count(),
        after,
        `step ${step}: repeating operation ${operations.indexOf(operation)}`,
      );
    }
  });
});

test('the timeline keeps the newest events only, and hostile text exactly (cut past the bound)', async () => {
  await withWorld(1, async ({ services, clock, request, store }) => {
    const { instanceGuid } = await request('web');
    const random = seededRandom(7);
    const messages: string[] = [];
    for (let n = 0; n < MAX_EVENTS_PER_INSTANCE + 40; n++) {
      clock.advance(1);
      // Each message differs from the one before: each is a new failure.
      const message = `${n} ${acceptedText(random)}`;
      messages.push(message);
      await services.reportInstanceError({ caller: LOCAL_CALLER, instanceGuid, message });
    }
    const events = await services.readInstanceTimeline({ caller: LOCAL_CALLER, instanceGuid });
    assert.equal(events.length, MAX_EVENTS_PER_INSTANCE);
    const kept = messages.slice(-MAX_EVENTS_PER_INSTANCE).reverse();
    assert.deepEqual(
      events.map((event) => event.detail),
      kept.map((message) => truncateUtf8(message, MAX_EVENT_DETAIL_BYTES)),
    );
    for (const event of events) assert.ok(Buffer.byteLength(event.detail ?? '') <= MAX_EVENT_DETAIL_BYTES);
    assert.ok(
      kept.some((message) => Buffer.byteLength(message) > MAX_EVENT_DETAIL_BYTES),
      'some message was over the bound',
    );
    // The full message stays on the instance.
    const record = await store.read((repository) =>
      repository.findInstance({ owner: '', title: 'web', requestedBy: '', shared: false }),
    );
    assert.equal(record?.errorMessage, messages.at(-1));
  });
});

test('a destroyed root asks its children to go; a child gone is told in the root timeline', async () => {
  await withWorld(3, async ({ services, store, clock, request, kinds }) => {
    const root = await request('root');
    const child = await request('child <i>', { requester: root.partitionId });
    const childRecord = await store.read((repository) =>
      repository.findInstance({ owner: '', title: 'child <i>', requestedBy: 'root', shared: false }),
    );
    assert.ok(childRecord);
    clock.advance(1);
    await request('root', { state: 'destroyed' });
    clock.advance(1);
    await assert.rejects(
      services.reportInstanceState({
        caller: LOCAL_CALLER,
        instanceGuid: root.instanceGuid,
        reportedState: 'destroyed',
      }),
    );
    assert.deepEqual(await kinds(child.instanceGuid), [
      'requested',
      'allocated: computer/p1',
      'destroy_requested',
    ]);
    clock.advance(1);
    await services.reportInstanceState({
      caller: LOCAL_CALLER,
      instanceGuid: child.instanceGuid,
      reportedState: 'destroyed',
    });
    assert.deepEqual(await kinds(root.instanceGuid), [
      'requested',
      'allocated: computer/p0',
      'destroy_requested',
      'destroyed: child <i>',
    ]);
    // Its own timeline went with it.
    assert.deepEqual(
      await store.read((repository) => repository.listInstanceEvents(childRecord.id, 200)),
      [],
    );
  });
});

test('master mode: a waiting instance placed later is allocated then; strangers cannot read its timeline', async () => {
  const { store, services, setUp, format, request } = await openMasterModeServices({
    clock: fixedClock(1_700_000_000),
  });
  try {
    await setUp({ users: ['alice', 'bob'], nodes: [{ owner: 'alice', title: 'one' }] });
    const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
    const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
    await services.supplySoftware({ caller: alice, computeNodeId: 'COMP-1', url: SR, state: 'available' });
    const { instanceGuid } = await request(alice, 'web', SR);
    await format('COMP-1', 1);
    const events = await services.readInstanceTimeline({ caller: alice, instanceGuid });
    assert.deepEqual(events.map((event) => [event.kind, event.detail]).reverse(), [
      ['requested', null],
      ['allocated', 'COMP-1/slappart0'],
    ]);
    for (const read of [services.readInstanceTimeline, services.readPromiseHistory])
      await assert.rejects(read({ caller: bob, instanceGuid }), (caught: unknown) => {
        return (caught as { code?: string }).code === 'SLAP_ERR_INSTANCE_NOT_FOUND';
      });
  } finally {
    await store.close();
  }
});

test('promise history: one row per transition, newest first, the last 50, hostile messages exactly', async () => {
  await withWorld(1, async ({ services, clock, request }) => {
    const { instanceGuid } = await request('web');
    const report = (results: PromiseResult[]) =>
      services.reportPromiseResults({ caller: LOCAL_CALLER, instanceGuid, results });
    const history = async () =>
      (await services.readPromiseHistory({ caller: LOCAL_CALLER, instanceGuid }))
        .map(({ name, status, message }) => `${name} ${status} ${message}`)
        .reverse();
    const result = (name: string, status: 'pass' | 'fail', message: string, date: string): PromiseResult => ({
      name,
      status,
      message,
      date,
    });
    clock.advance(1);
    await report([result('http', 'pass', 'up', 'd1'), result('disk', 'fail', 'full', 'd1')]);
    clock.advance(1);
    // Ran again, same results: no transition (the date alone changed).
    await report([result('http', 'pass', 'up again', 'd2'), result('disk', 'fail', 'full', 'd2')]);
    clock.advance(1);
    await report([result('http', 'fail', 'down', 'd3'), result('disk', 'fail', 'fuller', 'd3')]);
    clock.advance(1);
    await report([result('http', 'pass', 'up', 'd4'), result('disk', 'pass', '', 'd4')]);
    assert.deepEqual(await history(), [
      'disk fail full',
      'http fail down',
      'disk fail fuller',
      'http pass up',
      'disk pass ',
    ]);
    const transitions = await services.readPromiseHistory({ caller: LOCAL_CALLER, instanceGuid });
    assert.equal(transitions[0]?.at, clock.now());

    const random = seededRandom(3);
    const messages: string[] = [];
    for (let n = 0; n < MAX_PROMISE_EVENTS_PER_INSTANCE + 10; n++) {
      clock.advance(1);
      // At most the 4096 characters the API admits, some over 4096 bytes: kept whole.
      const long = n % 2 === 0 ? '€'.repeat(3000) : '';
      const message = Array.from(`${n} ${long}${acceptedText(random)}`)
        .slice(0, 4096)
        .join('');
      messages.push(message);
      await report([result(acceptedText(random) || 'empty', 'fail', message, 'd')]);
    }
    const kept = await services.readPromiseHistory({ caller: LOCAL_CALLER, instanceGuid });
    assert.equal(kept.length, MAX_PROMISE_EVENTS_PER_INSTANCE);
    assert.deepEqual(
      kept.map((event) => event.message),
      messages.slice(-MAX_PROMISE_EVENTS_PER_INSTANCE).reverse(),
    );
  });
});
