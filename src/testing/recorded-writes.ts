/**
 * Writes whose acknowledgement is recorded, for tests where masters die or their database goes away:
 * a writer requests instances one after another (titles cycling over a few, each request with a
 * growing `seq` parameter), keeps the last `seq` a master acknowledged (answered 200) for each title,
 * and counts the failures by HTTP status. At the end, every acknowledged write must be there: the
 * instance's `seq` is the acknowledged one or a later one that was sent (a request may have been done
 * although its answer never arrived).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MasterClient } from '../client/master-client.ts';
import { SlapError } from '../core/errors.ts';

export interface Acknowledged {
  seq: number;
  guid: string;
  partition: string;
}

export interface RecordedWriter {
  /** The last acknowledged write of each title. */
  acknowledged: ReadonlyMap<string, Acknowledged>;
  /** How many requests were sent, and how many of them acknowledged. */
  sent(): number;
  acknowledgements(): number;
  /** Failed requests by HTTP status (`no answer` when none came). */
  failures: ReadonlyMap<string, number>;
  stop(): Promise<void>;
  /** Asserts that every acknowledged write is there, read through `reader`. */
  assertAcknowledgedPresent(reader: MasterClient): Promise<void>;
}

export function startRecordedWriter(
  client: MasterClient,
  options: {
    computerGuid: string;
    titles: number;
    softwareReleaseUri: string;
    prefix?: string;
    pauseMs?: number;
  },
): RecordedWriter {
  const acknowledged = new Map<string, Acknowledged>();
  const sentSeqs = new Map<string, Set<number>>();
  const failures = new Map<string, number>();
  const prefix = options.prefix ?? 'load';
  let sent = 0;
  let acknowledgements = 0;
  let stopped = false;
  const done = (async () => {
    for (let seq = 0; !stopped; seq++) {
      const title = `${prefix}-${seq % options.titles}`;
      let seqs = sentSeqs.get(title);
      if (!seqs) sentSeqs.set(title, (seqs = new Set()));
      seqs.add(seq);
      sent++;
      try {
        const instance = await client.requestInstance({
          title,
          softwareReleaseUri: options.softwareReleaseUri,
          parameters: { seq: String(seq) },
          slaParameters: { computer_guid: options.computerGuid },
        });
        acknowledged.set(title, {
          seq,
          guid: instance.instance_guid,
          partition: instance.compute_partition_id,
        });
        acknowledgements++;
      } catch (error) {
        // An answer's status is in the details (a SlapError's own status is its code's).
        const answered = error instanceof SlapError ? error.details?.status : undefined;
        const status = typeof answered === 'number' ? String(answered) : 'no answer';
        failures.set(status, (failures.get(status) ?? 0) + 1);
        await sleep(20);
      }
      await sleep(options.pauseMs ?? 5);
    }
  })();
  return {
    acknowledged,
    sent: () => sent,
    acknowledgements: () => acknowledgements,
    failures,
    async stop() {
      stopped = true;
      await done;
    },
    async assertAcknowledgedPresent(reader) {
      for (const [title, ack] of acknowledged) {
        const instance = await reader.getInstance(ack.guid);
        assert.equal(instance.title, title);
        assert.equal(instance.compute_partition_id, ack.partition, `${title}: its partition`);
        const seq = Number(instance.parameters.seq);
        assert.ok(seq >= ack.seq, `${title}: seq ${seq} is older than the acknowledged ${ack.seq}`);
        assert.ok(sentSeqs.get(title)?.has(seq), `${title}: seq ${seq} was never sent`);
      }
      const allocated = await reader.listComputeNodeInstances(options.computerGuid);
      const ours = allocated.filter((instance) => instance.title.startsWith(`${prefix}-`));
      const titles = new Set(ours.map((instance) => instance.title));
      assert.equal(titles.size, ours.length, 'one instance per title');
      for (const title of acknowledged.keys()) assert.ok(titles.has(title), `${title} is allocated`);
      for (const title of titles) assert.ok(sentSeqs.has(title), `${title} was requested`);
      assert.equal(new Set(ours.map((i) => i.compute_partition_id)).size, ours.length, 'one partition each');
    },
  };
}
