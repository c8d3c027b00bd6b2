/**
 * Topic sync against the real test regions: topics created and grown on the source after the
 * replicator started, config conflicts with a pre-existing copy, and heartbeat freshness.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import { afterEach, describe, expect, it } from 'vitest';
import { describeTopicConfigs } from '../../core/kafka-protocol/describe-configs.ts';
import { createLogger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import { HeartbeatEmitter } from '../../replicator/heartbeats.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { audit, committedEnds, readAll } from '../support/copies.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';
import type { TestReplication } from '../support/replication.ts';

const log = createLogger({ name: 'test-topic-sync', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
/** The contract, with the default topic sync interval (5 s). */
const SYNC_CONTRACT_MS = 10_000;
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('topic sync (in-process replicator us-east → eu-west)', () => {
  const clients = useClients();
  const replicators: Replicator[] = [];
  const emitters: HeartbeatEmitter[] = [];
  afterEach(async () => {
    await Promise.all(emitters.splice(0).map((e) => e.stop()));
    await Promise.all(replicators.splice(0).map((r) => r.stop()));
  });

  function bootstrap(t: TestReplication, region: string): string[] {
    return [...(t.deployment.regions[region]?.kafka.bootstrap ?? [])];
  }

  function startReplicator(t: TestReplication): Replicator {
    const rep = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();
    return rep;
  }

  /** Waits until the flow has finished at least one topic sync round (its state turns running after the first one). */
  async function untilRunning(rep: Replicator): Promise<void> {
    await expect.poll(() => rep.status().flows[0]?.state, { timeout: 30_000, interval: 100 }).toBe('running');
  }

  /** Milliseconds from now until `topic` exists on eu-west with at least `partitions` partitions (polls every 100 ms). */
  async function timeUntilTarget(topic: string, partitions: number, timeoutMs = 30_000): Promise<number> {
    const admin = await clients.admin('eu-west');
    const t0 = Date.now();
    for (;;) {
      const topics = await admin.listTopics();
      if (topics.includes(topic)) {
        const [meta] = await admin.fetchTopicMetadata({ topics: [topic] });
        if ((meta?.partitions.length ?? 0) >= partitions) return Date.now() - t0;
      }
      if (Date.now() - t0 > timeoutMs) throw new Error(`${topic} with ${partitions} partitions did not appear on eu-west within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async function partitionCount(region: string, topic: string): Promise<number> {
    const [meta] = await (await clients.admin(region)).fetchTopicMetadata({ topics: [topic] });
    return meta?.partitions.length ?? 0;
  }

  it('creates the copy of a topic created after start within 10 s, with its partition count and explicit configs, and copies it', async () => {
    const t = testReplication(clients.runtime, { topicSyncIntervalMs: 5_000 });
    const topic = `${t.prefix}-late`;
    const copy = `us-east.${topic}`;
    const rep = startReplicator(t);
    await untilRunning(rep);
    expect((await (await clients.admin('eu-west')).listTopics()).includes(copy)).toBe(false);

    const configs = { 'retention.ms': '7200000', 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' };
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic, numPartitions: 3, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }] });
    const elapsed = await timeUntilTarget(copy, 3);
    expect(elapsed).toBeLessThanOrEqual(SYNC_CONTRACT_MS);
    expect(await partitionCount('eu-west', copy)).toBe(3);

    const target = (await describeTopicConfigs(bootstrap(t, 'eu-west'), [copy])).get(copy);
    for (const [name, value] of Object.entries(configs)) expect({ name, value: target?.get(name)?.value, source: target?.get(name)?.source }).toEqual({ name, value, source: 'TOPIC_CONFIG' });
    // Only what the source topic sets itself is copied: nothing else is an override on the copy.
    const overrides = [...(target?.entries() ?? [])].filter(([, e]) => e.source === 'TOPIC_CONFIG').map(([name]) => name);
    expect(overrides.sort()).toEqual(Object.keys(configs).sort());

    // And the records follow (compacted topic: every record has a key).
    const N = 90;
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    await producer.send({ topic, messages: range(0, N).map((i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 3 })) });
    const a = audit(await readAll(clients.kafka('eu-west'), copy, N, 30_000));
    expect({ total: a.total, duplicates: a.duplicates, outOfOrder: a.outOfOrder, misplaced: a.misplaced }).toEqual({ total: N, duplicates: [], outOfOrder: [], misplaced: 0 });
    console.log(`[topic-sync] copy of a late topic created ${elapsed} ms after the source topic`);
  });

  it('grows the copy within 10 s when the source gains partitions, and copies the new partition exactly once', async () => {
    const t = testReplication(clients.runtime, { topicSyncIntervalMs: 5_000 });
    const topic = `${t.prefix}-grow`;
    const copy = `us-east.${topic}`;
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const before = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const PER = 50;
    await before.send({ topic, messages: range(0, 2 * PER).map((i) => ({ key: `k${i}`, value: `before-${i}`, partition: i % 2 })) });

    const rep = startReplicator(t);
    await expect.poll(() => rep.status().flows[0]?.partitions.filter((p) => p.topic === topic && p.nextSourceOffset === String(PER)).length, { timeout: 30_000 }).toBe(2);

    const rd = kafkaJs.AdminClient.create({ 'bootstrap.servers': bootstrap(t, 'us-east').join(','), 'client.id': `${t.instance}-test-grow` });
    try {
      await new Promise<void>((resolve, reject) => rd.createPartitions(topic, 3, 10_000, (err) => (err ? reject(new Error(`createPartitions ${topic}: ${err.message}`)) : resolve())));
    } finally {
      rd.disconnect();
    }
    const elapsed = await timeUntilTarget(copy, 3);
    expect(elapsed).toBeLessThanOrEqual(SYNC_CONTRACT_MS);
    expect(await partitionCount('eu-west', copy)).toBe(3);

    // A new producer, so its metadata already knows partition 2.
    const after = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    await expect.poll(async () => partitionCount('us-east', topic), { timeout: 10_000 }).toBe(3);
    const NEW = 60;
    await after.send({ topic, messages: range(0, NEW).map((i) => ({ key: `n${i}`, value: `new-${i}`, partition: 2 })) });
    await after.send({ topic, messages: range(0, 2 * PER).map((i) => ({ key: `k${i}`, value: `after-${i}`, partition: i % 2 })) });

    const total = 4 * PER + NEW;
    const a = audit(await readAll(clients.kafka('eu-west'), copy, total, 30_000));
    expect({ total: a.total, duplicates: a.duplicates, outOfOrder: a.outOfOrder, misplaced: a.misplaced }).toEqual({ total, duplicates: [], outOfOrder: [], misplaced: 0 });
    expect(a.byPartition.get(2)).toEqual(range(0, NEW));
    expect(a.byPartition.get(0)).toEqual(range(0, 2 * PER));
    expect(a.byPartition.get(1)).toEqual(range(0, 2 * PER));
    const p2 = rep.status().flows[0]?.partitions.find((p) => p.topic === topic && p.partition === 2);
    expect(p2?.nextSourceOffset).toBe(String(NEW));
    console.log(`[topic-sync] copy grown ${elapsed} ms after the source`);
  });

  it('reports a cleanup.policy conflict naming both values, leaves that topic alone and copies the others', async () => {
    const t = testReplication(clients.runtime);
    const clash = `${t.prefix}-clash`;
    const fine = `${t.prefix}-fine`;
    const source = await clients.admin('us-east');
    await source.createTopics({
      topics: [
        { topic: clash, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
        { topic: fine, numPartitions: 2 },
      ],
    });
    await (await clients.admin('eu-west')).createTopics({ topics: [{ topic: `us-east.${clash}`, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }] });
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const N = 100;
    await producer.send({ topic: clash, messages: range(0, N).map((i) => ({ key: `c${i}`, value: `clash-${i}` })) });
    await producer.send({ topic: fine, messages: range(0, N).map((i) => ({ key: `f${i}`, value: `fine-${i}` })) });

    const rep = startReplicator(t);
    await expect.poll(() => rep.status().flows[0]?.conflicts.map((c) => c.source), { timeout: 30_000 }).toEqual([clash]);
    const conflict = rep.status().flows[0]?.conflicts[0];
    expect(conflict?.target).toBe(`us-east.${clash}`);
    expect(conflict?.reason).toContain('cleanup.policy');
    expect(conflict?.reason).toContain('"delete"');
    expect(conflict?.reason).toContain('"compact"');

    const a = audit(await readAll(clients.kafka('eu-west'), `us-east.${fine}`, N, 30_000));
    expect({ total: a.total, duplicates: a.duplicates, outOfOrder: a.outOfOrder, misplaced: a.misplaced }).toEqual({ total: N, duplicates: [], outOfOrder: [], misplaced: 0 });
    // A few more sync rounds: the conflicting topic is still reported, never subscribed, never copied.
    await sleep(3_000);
    const flow = rep.status().flows[0];
    expect(flow?.conflicts.map((c) => c.source)).toEqual([clash]);
    expect(flow?.topics).toContain(fine);
    expect(flow?.topics).not.toContain(clash);
    expect(flow?.partitions.filter((p) => p.topic === clash)).toEqual([]);
    expect([...(await committedEnds(await clients.admin('eu-west'), `us-east.${clash}`)).values()]).toEqual([0, 0]);
    const target = (await describeTopicConfigs(bootstrap(t, 'eu-west'), [`us-east.${clash}`], { configNames: ['cleanup.policy'] })).get(`us-east.${clash}`);
    expect(target?.get('cleanup.policy')?.value).toBe('delete');
  });
});

describe('heartbeats and freshness', () => {
  const clients = useClients();
  const replicators: Replicator[] = [];
  const emitters: HeartbeatEmitter[] = [];
  afterEach(async () => {
    await Promise.all(emitters.splice(0).map((e) => e.stop()));
    await Promise.all(replicators.splice(0).map((r) => r.stop()));
  });

  it("reports eu-west's freshness of us-east under ~3 s while us-east sends heartbeats, as status and as a metric", async () => {
    const t = testReplication(clients.runtime);
    const rep = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();
    // us-east's heartbeats, as us-east's own replicator would send them.
    const emitter = new HeartbeatEmitter({ kafka: clients.kafka('us-east'), region: 'us-east', topic: t.heartbeats, intervalMs: t.deployment.replication.heartbeatIntervalMs, log });
    emitters.push(emitter);
    emitter.start();

    await expect.poll(() => rep.status().freshnessMs['us-east'], { timeout: 45_000, interval: 250 }).toBeDefined();
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) {
      samples.push(rep.status().freshnessMs['us-east'] ?? Number.POSITIVE_INFINITY);
      await sleep(250);
    }
    console.log(`[freshness] us-east → eu-west: max ${Math.max(...samples)} ms over ${samples.length} samples`);
    expect(Math.max(...samples)).toBeLessThan(3_000);
    expect(Object.keys(rep.status().freshnessMs)).toEqual(['us-east']);

    const gauge = async (): Promise<number | undefined> => (await rep.metrics.freshness.get()).values.find((v) => v.labels['source'] === 'us-east' && v.labels['target'] === 'eu-west')?.value;
    await expect.poll(gauge, { timeout: 5_000 }).toBeDefined();
    expect(await gauge()).toBeLessThan(3);
    expect(await rep.metrics.registry.metrics()).toMatch(/^georeplica_replicator_freshness_seconds\{source="us-east",target="eu-west"\} [0-9.e-]+$/m);
  });
});
