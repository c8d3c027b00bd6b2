/**
 * The copy producer's close must never reach librdkafka while a transactional call is still in
 * it: a destroy under a commit aborted a replicator process in CI (2026-12-06,
 * "rd_kafka_txn_op_req0: rk_ops queue disabled"). close() waits for calls in flight, and refuses
 * every call made after it began with a retriable catalogue error.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { GeoError } from '../../core/errors.ts';
import { createLogger } from '../../core/logger.ts';
import { CopyProducer } from '../../replicator/copy-producer.ts';
import { committedEnds } from '../support/copies.ts';
import { useClients } from '../support/regions.ts';

const log = createLogger({ name: 'test-copy-producer', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

describe('copy producer', () => {
  const clients = useClients();
  const opened: CopyProducer[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((p) => p.close(10_000)));
  });

  it('closes only after the commit in flight finished, and refuses calls made after close began', async () => {
    const id = randomBytes(4).toString('hex');
    const topic = `t-${id}-copy-producer`;
    await (await clients.admin('eu-west')).createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const bootstrap = clients.runtime.deployment.regions['eu-west']?.kafka.bootstrap ?? [];
    const p = await CopyProducer.open({ bootstrap, clientId: `test-${id}`, transactionalId: `test-${id}`, transactionTimeoutMs: 60_000, settings: { 'linger.ms': 50 }, log });
    opened.push(p);

    await p.begin();
    await p.track();
    const value = Buffer.alloc(1_000, 7);
    for (let i = 0; i < 3_000; i++) expect(p.tryProduce(topic, i % 3, value, null, undefined, undefined)).toBe(true);
    const events: string[] = [];
    const commit = p.commit(30_000).then(
      () => events.push('commit resolved'),
      (err: unknown) => events.push(`commit failed: ${(err as Error).message}`),
    );
    const closing = p.close(30_000).then((done) => events.push(`closed ${done}`));
    // Asked after close began: refused here, never handed to librdkafka.
    await expect(p.begin()).rejects.toSatisfy((e) => e instanceof GeoError && e.code === 'KAFKA_UNAVAILABLE' && e.retriable);
    expect(() => p.tryProduce(topic, 0, value, null, undefined, undefined)).toThrow(GeoError);
    await Promise.all([commit, closing]);
    expect(events).toEqual(['commit resolved', 'closed true']);

    // The transaction committed whole: 1,000 records on each partition, plus its commit marker.
    const ends = await committedEnds(await clients.admin('eu-west'), topic);
    expect([...ends.values()]).toEqual([1_001, 1_001, 1_001]); // every partition alike: order does not matter
  });
});
