import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { H_ORIGIN, readOrigin } from '../../replicator/provenance.ts';
import { CopyProducer } from '../../replicator/copy-producer.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { collect } from '../support/kafka.ts';
import { uniqueName } from '../support/names.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';

const log = createLogger({ name: 'test-replicator', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

describe('replicator (in process)', () => {
  const clients = useClients();
  const replicators: Replicator[] = [];
  afterEach(async () => {
    await Promise.all(replicators.splice(0).map((r) => r.stop()));
  });

  it('copies a topic us-east → eu-west exactly once, in per-partition order, with provenance headers', async () => {
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-orders`;
    const admin = await clients.admin('us-east');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const N = 600;
    const sent = await producer.send({ topic, messages: Array.from({ length: N }, (_, i) => ({ key: `k${i % 17}`, value: `v${i}`, headers: { 'x-app': 'test' } })) });
    expect(sent.every((m) => m.errorCode === 0)).toBe(true);

    const rep = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();

    const consumer = await clients.consumer('eu-west', { 'isolation.level': 'read_committed', kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await expect.poll(async () => (await (await clients.admin('eu-west')).listTopics()).includes(`us-east.${topic}`), { timeout: 30_000 }).toBe(true);
    await consumer.subscribe({ topic: `us-east.${topic}` });
    const got = await collect(consumer, N, 60_000);
    expect(got).toHaveLength(N);
    const seen = new Set(got.map((r) => `${readOrigin(r.headers)?.partition}/${readOrigin(r.headers)?.offset}`));
    expect(seen.size).toBe(N);
    for (const p of [0, 1, 2]) {
      const copies = got.filter((r) => r.partition === p);
      const originOffsets = copies.map((r) => Number(readOrigin(r.headers)?.offset));
      expect(originOffsets).toEqual([...originOffsets].sort((a, b) => a - b));
      // The wire format: one header, hops/topic/partition/offset; the record's own headers kept.
      expect(copies.every((r, i) => r.headers[H_ORIGIN] === `us-east>eu-west/${topic}/${p}/${originOffsets[i]}` && r.headers['x-app'] === 'test')).toBe(true);
    }
    const status = rep.status();
    expect(status.flows[0]?.state).toBe('running');
    // A plain source has dense offsets: nothing was passed over.
    expect(status.flows[0]?.partitions.filter((p) => p.topic === topic).map((p) => p.skippedOffsets)).toEqual([0, 0, 0]);
  });

  it('counts the source offsets it passes over: a transactional source\'s markers and aborted records', async () => {
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-txn-source`;
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const id = `${t.prefix}-txn-writer`;
    const writer = await CopyProducer.open({ bootstrap: clients.runtime.deployment.regions['us-east']?.kafka.bootstrap ?? [], clientId: id, transactionalId: id, transactionTimeoutMs: 60_000, settings: {}, log });
    try {
      // Offsets 0-9 committed, 10 its marker; 11-20 aborted, 21 its marker; 22-31 committed, 32 its marker.
      for (const outcome of ['commit', 'abort', 'commit'] as const) {
        await writer.begin();
        await writer.track();
        for (let i = 0; i < 10; i++) expect(writer.tryProduce(topic, 0, Buffer.from(`${outcome}-${i}`), null, undefined, undefined)).toBe(true);
        // Written before the abort: an abort purges what librdkafka has not sent yet.
        expect((await writer.delivered()).refused).toBe(0);
        await (outcome === 'commit' ? writer.commit(30_000) : writer.abort(30_000));
      }
    } finally {
      await writer.close(10_000);
    }

    const rep = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();
    const partition = () => rep.flow('us-east', 'eu-west').status().partitions.find((p) => p.topic === topic);
    await expect.poll(() => partition()?.copiedRecords, { timeout: 60_000, interval: 250 }).toBe(20);
    // Up to the last record copied (offset 31): 32 offsets, 20 records, 12 passed over.
    expect(partition()?.skippedOffsets).toBe(12);
    expect(partition()?.nextSourceOffset).toBe('32');
  });

  it('with minCopyIntervalMs, copies a partition written one record at a time in a few larger transactions, each record once and in order', async () => {
    const INTERVAL = 500;
    const t = testReplication(clients.runtime, { minCopyIntervalMs: INTERVAL });
    const topic = `${t.prefix}-trickle`;
    const admin = await clients.admin('us-east');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    const producer = await clients.producer('us-east', { 'linger.ms': 0, kafkaJS: { acks: -1, idempotent: true } });
    const rep = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();
    await expect.poll(async () => (await (await clients.admin('eu-west')).listTopics()).includes(`us-east.${topic}`), { timeout: 30_000 }).toBe(true);
    const consumer = await clients.consumer('eu-west', { 'isolation.level': 'read_committed', kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await consumer.subscribe({ topic: `us-east.${topic}` });

    // One record every 50 ms for 2 s: without the interval, about one transaction each.
    const N = 40;
    const arrived = collect(consumer, N, 60_000);
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      await producer.send({ topic, messages: [{ key: 'k', value: `v${i}` }] });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const got = await arrived;
    const elapsed = Date.now() - t0;
    expect(got.map((r) => r.value)).toEqual(Array.from({ length: N }, (_, i) => `v${i}`));

    // Each data transaction writes one offset-sync record and then its commit marker, both in
    // the sync topic (nothing else of this test's instance writes there): transactions = offsets / 2.
    const offsets = await (await clients.admin('eu-west')).fetchTopicOffsets(`${t.instance}.offset-syncs.us-east`);
    const transactions = offsets.reduce((n, p) => n + Number(p.high), 0) / 2;
    expect(transactions).toBeGreaterThanOrEqual(2);
    expect(transactions).toBeLessThanOrEqual(Math.ceil(elapsed / INTERVAL) + 2);
  });
});
