import { afterEach, describe, expect, it } from 'vitest';
import type { Deployment } from '../../config/schema.ts';
import { isGeoError } from '../../core/errors.ts';
import { KafkaJS } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { flowNames } from '../../replicator/names.ts';
import { translateGroupOffsets } from '../../replicator/offset-translation.ts';
import type { TranslateOptions } from '../../replicator/offset-translation.ts';
import { readOrigin } from '../../replicator/provenance.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { collect } from '../support/kafka.ts';
import { uniqueName } from '../support/names.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';

const log = createLogger({ name: 'test-offset-translation', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

describe('offset translation us-east → eu-west', () => {
  const clients = useClients();
  const replicators: Replicator[] = [];
  afterEach(async () => {
    await Promise.all(replicators.splice(0).map((r) => r.stop()));
  });

  function startReplicator(deployment: Readonly<Deployment>): Replicator {
    const rep = new Replicator({ deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();
    return rep;
  }

  async function stopReplicator(rep: Replicator): Promise<void> {
    replicators.splice(replicators.indexOf(rep), 1);
    await rep.stop();
  }

  const translate = (deployment: Readonly<Deployment>, group: string, more: Partial<TranslateOptions> = {}): ReturnType<typeof translateGroupOffsets> => translateGroupOffsets({ deployment, group, from: 'us-east', to: 'eu-west', log, ...more });

  async function createTopic(region: string, topic: string, partitions: number): Promise<void> {
    const admin = await clients.admin(region);
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
  }

  async function produce(topic: string, perPartition: number, partitions: number, from = 0): Promise<void> {
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const messages = Array.from({ length: partitions }, (_, p) => Array.from({ length: perPartition }, (__, i) => ({ partition: p, key: `k${i}`, value: `p${p}-v${from + i}` }))).flat();
    const sent = await producer.send({ topic, messages });
    expect(sent.every((m) => m.errorCode === 0)).toBe(true);
  }

  /** The replicator's checkpoints for the copy, per partition: every record up to there is copied. */
  async function waitForCheckpoints(instance: string, copy: string, expected: string[]): Promise<void> {
    const admin = await clients.admin('eu-west');
    const groupId = flowNames(instance, 'us-east', 'eu-west').checkpointGroup;
    await expect
      .poll(
        async () => {
          const fetched = await admin.fetchOffsets({ groupId, topics: [copy] });
          return (fetched[0]?.partitions ?? []).sort((a, b) => a.partition - b.partition).map((p) => p.offset);
        },
        { timeout: 60_000, interval: 500 },
      )
      .toEqual(expected);
  }

  /** Group `group` reads `topic` in us-east from the beginning until each partition reached its offset, commits exactly those and leaves. */
  async function consumeAndCommit(group: string, topic: string, commitAt: Record<number, number>): Promise<void> {
    const consumer = await clients.consumer('us-east', { kafkaJS: { groupId: group, autoCommit: false, fromBeginning: true } });
    await consumer.subscribe({ topic });
    const reached = new Set<number>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`group ${group} reached only partitions ${[...reached].join(',')} of ${topic}`)), 60_000);
      void consumer.run({
        eachMessage: ({ partition, message }: KafkaJS.EachMessagePayload) => {
          const at = commitAt[partition];
          if (at !== undefined && Number(message.offset) + 1 >= at) reached.add(partition);
          if (reached.size === Object.keys(commitAt).length) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
    await consumer.commitOffsets(Object.entries(commitAt).map(([partition, offset]) => ({ topic, partition: Number(partition), offset: String(offset) })));
    await consumer.disconnect();
  }

  async function copyEnd(copy: string, partition: number): Promise<string | undefined> {
    const admin = await clients.admin('eu-west');
    const offsets = await admin.fetchTopicOffsets(copy, { isolationLevel: KafkaJS.IsolationLevel.READ_COMMITTED });
    return offsets.find((o) => o.partition === partition)?.high;
  }

  it('translates a group exactly mid-topic; the group resumes in eu-west with no record skipped or repeated', async () => {
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-orders`;
    const copy = `us-east.${topic}`;
    const N = 150;
    await createTopic('us-east', topic, 2);
    startReplicator(t.deployment);
    // Three rounds, each copied before the next: several offset syncs and transaction markers per partition.
    for (let round = 0; round < 3; round++) {
      await produce(topic, N / 3, 2, (round * N) / 3);
      await waitForCheckpoints(t.instance, copy, [String(((round + 1) * N) / 3), String(((round + 1) * N) / 3)]);
    }

    const group = uniqueName('g-orders');
    const committed: Record<number, number> = { 0: 100, 1: 37 };
    await consumeAndCommit(group, topic, committed);

    const dry = await translate(t.deployment, group);
    expect(dry).toMatchObject({ group, from: 'us-east', to: 'eu-west', exact: true, applied: false, skippedTopics: [] });
    expect(dry.partitions.map(({ topic: tp, copyTopic, partition, sourceOffset, exact, pendingRecords }) => ({ tp, copyTopic, partition, sourceOffset, exact, pendingRecords }))).toEqual([
      { tp: topic, copyTopic: copy, partition: 0, sourceOffset: '100', exact: true, pendingRecords: 0 },
      { tp: topic, copyTopic: copy, partition: 1, sourceOffset: '37', exact: true, pendingRecords: 0 },
    ]);

    // Source 0-99 were copied in at least two transactions, each followed by a commit marker in the copy.
    expect(Number(dry.partitions[0]?.targetOffset)).toBeGreaterThanOrEqual(102);

    const applied = await translate(t.deployment, group, { apply: true });
    expect(applied.applied).toBe(true);
    expect(applied.partitions.map((p) => p.targetOffset)).toEqual(dry.partitions.map((p) => p.targetOffset));
    const committedInEu = await (await clients.admin('eu-west')).fetchOffsets({ groupId: group, topics: [copy] });
    expect(committedInEu[0]?.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset)).toEqual(dry.partitions.map((p) => p.targetOffset));

    // The group, failed over: everything from its committed source offsets on, once each, in order.
    const consumer = await clients.consumer('eu-west', { 'isolation.level': 'read_committed', kafkaJS: { groupId: group, autoCommit: false } });
    await consumer.subscribe({ topic: copy });
    const remaining = N - 100 + (N - 37);
    const got = await collect(consumer, remaining, 60_000);
    for (const [p, from] of Object.entries(committed)) {
      const origins = got.filter((r) => r.partition === Number(p)).map((r) => Number(readOrigin(r.headers)?.offset));
      expect(origins[0]).toBe(from);
      expect(origins).toEqual(Array.from({ length: N - from }, (_, i) => from + i));
      expect(got.filter((r) => r.partition === Number(p)).every((r) => String(readOrigin(r.headers)?.partition) === p)).toBe(true);
    }

    // That consumer is a live member of the group in eu-west now: applying again must refuse.
    const refused = await translate(t.deployment, group, { apply: true }).catch((e: unknown) => e);
    expect(isGeoError(refused, 'INVALID_ARGUMENT')).toBe(true);
    expect((refused as Error).message).toMatch(/Stop the group's consumers in eu-west/);
  });

  it('is exact at the copy end when caught up, reports the records still to copy when replication is behind, and waits for it', async () => {
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-events`;
    const copy = `us-east.${topic}`;
    await createTopic('us-east', topic, 1);
    await produce(topic, 100, 1);
    const first = startReplicator(t.deployment);
    await waitForCheckpoints(t.instance, copy, ['100']);

    // Caught up: the group read everything; no copy has origin ≥ 100 yet, the checkpoint says all before it is copied.
    const group = uniqueName('g-events');
    await consumeAndCommit(group, topic, { 0: 100 });
    const caughtUp = await translate(t.deployment, group);
    const endBefore = await copyEnd(copy, 0);
    expect(caughtUp.partitions).toEqual([{ topic, copyTopic: copy, partition: 0, sourceOffset: '100', targetOffset: endBefore, exact: true, pendingRecords: 0 }]);

    // Replication stops; the group reads 50 more in us-east.
    await stopReplicator(first);
    await produce(topic, 50, 1, 100);
    await consumeAndCommit(group, topic, { 0: 150 });
    const behind = await translate(t.deployment, group);
    expect(behind.exact).toBe(false);
    expect(behind.partitions).toEqual([{ topic, copyTopic: copy, partition: 0, sourceOffset: '150', targetOffset: endBefore, exact: false, pendingRecords: 50 }]);
    expect(behind.message).toMatch(/behind by up to 50 records/);

    const timedOut = await translate(t.deployment, group, { wait: true, waitTimeoutMs: 2_000, pollIntervalMs: 500, apply: true }).catch((e: unknown) => e);
    expect(isGeoError(timedOut, 'TIMEOUT')).toBe(true);
    expect(await (await clients.admin('eu-west')).fetchOffsets({ groupId: group, topics: [copy] })).toEqual([]);

    // Replication resumes: waiting ends exact, at the new end of the copy; the group resumes with record 150.
    startReplicator(t.deployment);
    const waited = await translate(t.deployment, group, { wait: true, waitTimeoutMs: 90_000, pollIntervalMs: 500, apply: true });
    expect(waited.exact).toBe(true);
    expect(waited.applied).toBe(true);
    expect(waited.partitions[0]?.targetOffset).toBe(await copyEnd(copy, 0));
    expect(Number(waited.partitions[0]?.targetOffset)).toBeGreaterThan(Number(endBefore) + 50);

    const consumer = await clients.consumer('eu-west', { 'isolation.level': 'read_committed', kafkaJS: { groupId: group, autoCommit: false } });
    await consumer.subscribe({ topic: copy });
    await produce(topic, 10, 1, 150);
    const got = await collect(consumer, 10, 60_000);
    expect(got.map((r) => Number(readOrigin(r.headers)?.offset))).toEqual(Array.from({ length: 10 }, (_, i) => 150 + i));
  });

  it('rejects an unknown region, listing the valid ones', async () => {
    const t = testReplication(clients.runtime);
    const err = await translateGroupOffsets({ deployment: t.deployment, group: 'any', from: 'us-east', to: 'eu-central', log }).catch((e: unknown) => e);
    expect(isGeoError(err, 'UNKNOWN_REGION')).toBe(true);
    expect((err as Error).message).toBe('Unknown target region "eu-central". Valid regions: us-east, eu-west, ap-southeast.');
  });

  it('gives an empty result with a clear message for a group without offsets, and skips topics that are not replicated', async () => {
    const t = testReplication(clients.runtime);
    const none = await translate(t.deployment, uniqueName('g-none'));
    expect(none.partitions).toEqual([]);
    expect(none.exact).toBe(true);
    expect(none.message).toMatch(/^Group "g-none-[0-9a-f]+" has no committed offsets in us-east; nothing to translate\.$/);

    // A topic outside replication.include: the group's offsets there have no copy to translate into.
    const local = uniqueName('local-only');
    await createTopic('us-east', local, 1);
    await produce(local, 5, 1);
    const group = uniqueName('g-local');
    await consumeAndCommit(group, local, { 0: 5 });
    const skipped = await translate(t.deployment, group);
    expect(skipped.partitions).toEqual([]);
    expect(skipped.skippedTopics).toEqual([{ topic: local, reason: 'excluded by replication.include/exclude' }]);
    expect(skipped.message).toMatch(/no committed offsets in us-east for a replicated topic/);

    // A replicated topic whose copy does not exist yet (no replicator ever ran): safe, not exact, never committed.
    const uncopied = `${t.prefix}-uncopied`;
    await createTopic('us-east', uncopied, 1);
    await produce(uncopied, 20, 1);
    await consumeAndCommit(group, uncopied, { 0: 12 });
    const noCopy = await translate(t.deployment, group, { topics: [uncopied], apply: true });
    expect(noCopy.partitions).toEqual([{ topic: uncopied, copyTopic: `us-east.${uncopied}`, partition: 0, sourceOffset: '12', targetOffset: '0', exact: false, pendingRecords: 12, note: `no copy us-east.${uncopied} partition 0 in eu-west yet` }]);
    expect(noCopy.applied).toBe(false);
    expect(noCopy.skippedTopics).toEqual([]);
    expect(noCopy.message).toMatch(/1 partition has no copy in eu-west yet \(is the replicator running for us-east → eu-west\?\) and was not committed\./);
  });
});
