import { describe, expect, it } from 'vitest';
import { sleep } from '../../core/retry.ts';
import { audit, committedEnds, readAll } from '../support/copies.ts';
import { steadyLoad } from '../support/load.ts';
import { useClients } from '../support/regions.ts';
import { useReplicatorProcesses } from '../support/replicator-process.ts';
import { testReplication } from '../support/replication.ts';

describe('two replicator processes for the same flows', () => {
  const clients = useClients();
  const startReplicator = useReplicatorProcesses();

  it('share partitions, survive a SIGKILL and fence a paused zombie, with no loss and no duplicate', async () => {
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-scale`;
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic, numPartitions: 6 }] });
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const load = steadyLoad(producer, topic, 1_000);

    const a = startReplicator(t.deployment, 'eu-west', ['us-east']);
    const b = startReplicator(t.deployment, 'eu-west', ['us-east']);
    // Both took part: each logged an assignment of its own share of the partitions. Polled, not
    // slept for: on a loaded machine starting a process and joining the group can take long.
    await expect.poll(() => a.log(), { timeout: 60_000, interval: 250 }).toContain('partitions assigned');
    await expect.poll(() => b.log(), { timeout: 60_000, interval: 250 }).toContain('partitions assigned');

    // 1. SIGKILL one: its partitions move to the other once the session times out (10 s).
    await a.kill();
    await sleep(14_000);
    const c = startReplicator(t.deployment, 'eu-west', ['us-east']);
    await sleep(6_000);

    // 2. Freeze b past its session timeout: c takes its partitions, fences b's producer (named by
    //    the checkpoints) and commits with a newer generation of the checkpoint group. When b
    //    wakes up it must not commit a single copy.
    await b.pause();
    await sleep(15_000);
    await b.resume();
    await sleep(8_000);
    const acked = await load.stop();
    expect(acked).toBeGreaterThan(20_000);

    const ends = await committedEnds(await clients.admin('us-east'), topic);
    const total = [...ends.values()].reduce((x, y) => x + y, 0);
    const copies = await readAll(clients.kafka('eu-west'), `us-east.${topic}`, total, 90_000);
    const result = audit(copies);
    expect(result.duplicates).toEqual([]);
    expect(result.outOfOrder).toEqual([]);
    for (const [p, end] of ends) expect(result.byPartition.get(p)).toEqual(Array.from({ length: end }, (_, i) => i));
    expect(c.alive() && b.alive()).toBe(true);
    // c took partitions that b had committed, so it fenced b's producer at once.
    expect(c.log()).toContain('fenced the previous owner of assigned partitions');
  });
});
