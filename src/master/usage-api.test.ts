/** Usage reports over real HTTP: the JSON API and the legacy `useComputer` store valid journals and refuse bad ones. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../core/clock.ts';
import { legacyPost } from '../testing/legacy.ts';
import { formatTestNode, withTestMaster } from '../testing/master.ts';

const T0 = 1_700_000_000;
const USAGE = '/slapos.post.v0.compute_node_usage';

function journal(stopDate: string, partition: string, quantity: string): string {
  return (
    '<journal><transaction type="Sale Packing List"><start_date></start_date>' +
    `<stop_date>${stopDate}</stop_date><reference>computer</reference><currency></currency>` +
    '<payment_mode></payment_mode><arrow type="Administration"><source></source><destination></destination>' +
    `</arrow><movement><resource>service_module/cpu_time</resource><reference>${partition}</reference>` +
    `<quantity>${quantity}</quantity><price>0.0</price><VAT></VAT></movement></transaction></journal>`
  );
}

test('compute_node_usage and useComputer: stored once, answered as before; bad journals get a 4xx with the reason', async () => {
  const clock = fixedClock(T0 + 3600);
  await withTestMaster(
    async ({ api, url, master }) => {
      await formatTestNode(url, { partitions: 1 });
      const good = journal('2023-11-14 at 22:13:20', 'slappart0', '2.5');
      for (let i = 0; i < 2; i++)
        assert.deepEqual((await api(USAGE, { computer_guid: 'computer', tioxml: good })).body, {
          type: 'success',
          title: 'Ignored',
        });
      const legacy = await legacyPost(url, '/useComputer', {
        computer_id: 'computer',
        use_string: journal('2023-11-14 at 22:13:21', 'slappart0', '1'),
      });
      assert.deepEqual([legacy.status, legacy.text], [200, 'Ignored']);

      const bad: [string, number, RegExp][] = [
        [journal('2023-11-14 at 22:13:20', 'slappart0', '-1'), 400, /<quantity> is negative/],
        [journal('2023-11-14 at 22:13:20', 'slappart7', '1'), 403, /"slappart7", which is not a partition/],
        [journal('2030-01-01 at 00:00:00', 'slappart0', '1'), 400, /ends in the future/],
        ['<journal><transaction>', 400, /not well-formed XML/],
      ];
      for (const [tioxml, status, title] of bad) {
        const answer = await api(USAGE, { computer_guid: 'computer', tioxml });
        assert.equal(answer.status, status);
        assert.match((answer.body as { title: string }).title, title);
        const refused = await legacyPost(url, '/useComputer', {
          computer_id: 'computer',
          use_string: tioxml,
        });
        assert.ok(refused.status >= 400 && refused.status < 500, `${refused.status} ${refused.text}`);
      }
      const stored = await master.services.readUsageSeries({
        caller: { kind: 'local' },
        computeNodeId: 'computer',
        resources: ['service_module/cpu_time'],
        from: 0,
        to: T0 + 3600,
      });
      assert.deepEqual(stored[0]?.points, [
        { stop: T0, quantity: 2.5 },
        { stop: T0 + 1, quantity: 1 },
      ]);
    },
    { clock },
  );
});
