import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { audit, committedEnds, readAll } from '../support/copies.ts';
import { steadyLoad } from '../support/load.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';

const log = createLogger({ name: 'test-target-outage', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

describe('target region outage', () => {
  const clients = useClients();
  let replicator: Replicator | undefined;
  afterEach(async () => {
    await replicator?.stop();
    replicator = undefined;
    await clients.runtime.start('eu-west/kafka');
  });

  it('resumes the flows into a region whose brokers were down past the session timeout, with nothing lost and nothing twice', async () => {
    // The checkpoint group lives on the target cluster: an outage longer than its session
    // timeout (10 s) drops the member, so the flow must rejoin, take its partitions again and
    // resume from the checkpoints.
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-outage`;
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const load = steadyLoad(producer, topic, 500);

    replicator = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicator.start();
    const flow = replicator.flow('us-east', 'eu-west');
    await expect.poll(() => flow.status().partitions.filter((p) => p.topic === topic && p.copiedRecords > 0).length, { timeout: 60_000, interval: 250 }).toBe(3);

    await clients.runtime.stop('eu-west/kafka');
    await sleep(20_000);
    await clients.runtime.start('eu-west/kafka');
    await sleep(5_000);
    const acked = await load.stop();
    expect(acked).toBeGreaterThan(5_000);

    const ends = await committedEnds(await clients.admin('us-east'), topic);
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    const copies = audit(await readAll(clients.kafka('eu-west'), `us-east.${topic}`, total, 120_000));
    expect(copies.duplicates).toEqual([]);
    expect(copies.outOfOrder).toEqual([]);
    for (const [p, end] of ends) expect(copies.byPartition.get(p)).toEqual(Array.from({ length: end }, (_, i) => i));
    // A plain source: no offset was passed over since the partitions were (re)assigned.
    expect(flow.status().partitions.filter((p) => p.topic === topic).map((p) => p.skippedOffsets)).toEqual([0, 0, 0]);
  }, 300_000);
});
