/**
 * A record the target cluster will never accept (larger than the copy's max.message.bytes)
 * stops its partition and only that one: nothing after it is copied, nothing is skipped, and
 * the checkpoint stays at the record.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { describeTopicConfigs } from '../../core/kafka-protocol/describe-configs.ts';
import { createLogger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { audit, readAll } from '../support/copies.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';

const log = createLogger({ name: 'test-poison', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe('poison records (in-process replicator us-east → eu-west)', () => {
  const clients = useClients();
  const replicators: Replicator[] = [];
  afterEach(async () => {
    await Promise.all(replicators.splice(0).map((r) => r.stop()));
  });

  it('a record larger than the target accepts stops only its partition, at that record, with nothing skipped', async () => {
    const t = testReplication(clients.runtime);
    const topic = `${t.prefix}-big`;
    const copy = `us-east.${topic}`;
    // The copy exists first, with a limit below the record; topic sync leaves an existing copy's configs alone.
    await (await clients.admin('eu-west')).createTopics({ topics: [{ topic: copy, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: '100000' }] }] });
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'max.message.bytes', value: '2000000' }] }] });

    const producer = await clients.producer('us-east', { 'message.max.bytes': 2_000_000, kafkaJS: { acks: -1, idempotent: true } });
    const BEFORE = 40;
    const AFTER = 30;
    const P1 = 120;
    const small = (tag: string, n: number, partition: number): Array<{ key: string; value: string; partition: number }> => range(0, n).map((i) => ({ key: `${tag}${i}`, value: `${tag}-${i}`, partition }));
    await producer.send({ topic, messages: [...small('p0-before', BEFORE, 0), ...small('p1-a', P1 / 2, 1)] });
    // Random bytes: the replicator compresses with lz4, and a compressible value would fit.
    const [big] = await producer.send({ topic, messages: [{ key: 'big', value: randomBytes(500_000), partition: 0 }] });
    expect(big?.baseOffset).toBe(String(BEFORE));
    await producer.send({ topic, messages: [...small('p0-after', AFTER, 0), ...small('p1-b', P1 / 2, 1)] });

    const rep = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();

    const p = (partition: number) => rep.status().flows[0]?.partitions.find((x) => x.topic === topic && x.partition === partition);
    await expect.poll(() => p(0)?.state, { timeout: 45_000, interval: 200 }).toBe('error');
    expect(p(0)?.reason).toMatch(/message size too large/i);
    expect(p(0)?.reason).toContain(`${topic}/0`);
    await expect.poll(() => p(1)?.nextSourceOffset, { timeout: 30_000 }).toBe(String(P1));

    const poison = (await rep.metrics.partitionErrors.get()).values.find((v) => v.labels['reason'] === 'poison')?.value ?? 0;
    expect(poison).toBeGreaterThan(0);
    expect(await rep.metrics.registry.metrics()).toMatch(/^georeplica_replicator_partition_errors_total\{flow="us-east->eu-west",reason="poison"\} [1-9]\d*$/m);

    // Stays stopped at the big record: a few more seconds change nothing.
    await sleep(3_000);
    expect(p(0)?.state).toBe('error');
    expect(p(0)?.nextSourceOffset).toBe(String(BEFORE));
    const checkpoints = await (await clients.admin('eu-west')).fetchOffsets({ groupId: `${t.instance}.checkpoints.us-east`, topics: [copy], requireStableOffsets: true, timeout: 10_000 });
    const ckpt = new Map(checkpoints.flatMap((x) => x.partitions.map((q) => [q.partition, q.offset])));
    expect(ckpt.get(0)).toBe(String(BEFORE));
    expect(ckpt.get(1)).toBe(String(P1));

    const copies = await readAll(clients.kafka('eu-west'), copy, BEFORE + P1, 30_000);
    const a = audit(copies);
    expect({ total: a.total, duplicates: a.duplicates, outOfOrder: a.outOfOrder, misplaced: a.misplaced }).toEqual({ total: BEFORE + P1, duplicates: [], outOfOrder: [], misplaced: 0 });
    expect(a.byPartition.get(0)).toEqual(range(0, BEFORE));
    expect(a.byPartition.get(1)).toEqual(range(0, P1));
    expect(copies.filter((c) => c.partition === 0).map((c) => c.value)).toEqual(range(0, BEFORE).map((i) => `p0-before-${i}`));

    // The copy's limit was left as it was (no config sync onto an existing copy).
    const target = (await describeTopicConfigs([...(t.deployment.regions['eu-west']?.kafka.bootstrap ?? [])], [copy], { configNames: ['max.message.bytes'] })).get(copy);
    expect(target?.get('max.message.bytes')?.value).toBe('100000');
  });
});
