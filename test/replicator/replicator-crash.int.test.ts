import { describe, expect, it } from 'vitest';
import { sleep } from '../../core/retry.ts';
import { audit, committedEnds, readAll } from '../support/copies.ts';
import { steadyLoad } from '../support/load.ts';
import { useClients } from '../support/regions.ts';
import { useReplicatorProcesses } from '../support/replicator-process.ts';
import { testReplication } from '../support/replication.ts';

describe('replicator crashes', () => {
  const clients = useClients();
  const startReplicator = useReplicatorProcesses();

  it('loses nothing and duplicates nothing when SIGKILLed mid-stream, again and again', async () => {
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-crash`;
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const load = steadyLoad(producer, topic, 1_500);

    let rep = startReplicator(t.deployment, 'eu-west', ['us-east']);
    for (let i = 0; i < 4; i++) {
      await sleep(5_000 + i * 700);
      await rep.kill();
      await sleep(500);
      rep = startReplicator(t.deployment, 'eu-west', ['us-east']);
    }
    const acked = await load.stop();
    expect(acked).toBeGreaterThan(10_000);

    const sourceEnds = await committedEnds(await clients.admin('us-east'), topic);
    const total = [...sourceEnds.values()].reduce((a, b) => a + b, 0);
    const copies = await readAll(clients.kafka('eu-west'), `us-east.${topic}`, total, 90_000);
    const a = audit(copies);
    expect(a.duplicates).toEqual([]);
    expect(a.outOfOrder).toEqual([]);
    expect(a.misplaced).toBe(0);
    for (const [p, end] of sourceEnds) {
      // Every source offset 0..end-1 exactly once, in order: no gap, no duplicate.
      expect(a.byPartition.get(p)).toEqual(Array.from({ length: end }, (_, i) => i));
    }
    expect(a.total).toBe(total);
  });
});
