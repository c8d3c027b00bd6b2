import { afterEach, describe, expect, it } from 'vitest';
import type { Admin } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { audit, committedEnds, readAll } from '../support/copies.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';

const log = createLogger({ name: 'test-isolation', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
const OUTAGE_MS = 60_000;

describe('failure isolation between flows', () => {
  const clients = useClients();
  let replicator: Replicator | undefined;
  afterEach(async () => {
    await replicator?.stop();
    replicator = undefined;
    // Whatever happened, the shared regions must be whole again for the next test.
    await clients.runtime.start('ap-southeast/kafka');
  });

  async function copied(admin: Admin, topic: string): Promise<number> {
    const ends = await committedEnds(admin, topic).catch(() => new Map<number, number>());
    return [...ends.values()].reduce((a, b) => a + b, 0);
  }

  /** Fills a backlog while the flow is paused, then times how fast it is copied once resumed. */
  async function backlogRate(rep: Replicator, topic: string, count: number): Promise<number> {
    const flow = rep.flow('us-east', 'eu-west');
    const eu = await clients.admin('eu-west');
    flow.pause();
    const before = await copied(eu, `us-east.${topic}`);
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true }, 'linger.ms': 20 });
    const value = 'x'.repeat(200);
    for (let i = 0; i < count; i += 5_000) await producer.send({ topic, messages: Array.from({ length: Math.min(5_000, count - i) }, (_, j) => ({ key: `k${(i + j) % 101}`, value })) });
    const t0 = Date.now();
    flow.resume();
    // Committed end offsets also count one transaction marker per batch: with batches of
    // thousands of records that ends the timing a few records early at most.
    await expect.poll(() => copied(eu, `us-east.${topic}`), { timeout: 120_000, interval: 100 }).toBeGreaterThanOrEqual(before + count);
    return count / ((Date.now() - t0) / 1000);
  }

  it('keeps the other flows at full speed while a source region is down for 60 s, then resumes that flow in order with nothing lost', async () => {
    const t = testReplication(clients.runtime);
    const a = `${t.prefix}-from-us`;
    const b = `${t.prefix}-from-ap`;
    await (await clients.admin('us-east')).createTopics({ topics: [{ topic: a, numPartitions: 6 }] });
    await (await clients.admin('ap-southeast')).createTopics({ topics: [{ topic: b, numPartitions: 2 }] });
    const apProducer = await clients.producer('ap-southeast', { kafkaJS: { acks: -1, idempotent: true } });
    await apProducer.send({ topic: b, messages: Array.from({ length: 500 }, (_, i) => ({ key: `b${i % 13}`, value: `before-${i}` })) });

    replicator = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east', 'ap-southeast'], log });
    replicator.start();
    await expect.poll(() => replicator?.status().flows.every((f) => f.state === 'running' && f.topics.length > 0), { timeout: 30_000 }).toBe(true);

    // A burst of other work on this 2-core machine (a JVM stopping, brokers an earlier file
    // restarted still warming up) can stall one sample, so the first sample only warms up, the
    // baseline is the better of the next two and the outage phase gets up to four tries to reach
    // 80 % of it. A real loss of isolation slows every try; the test then fails. Alone, this test
    // measured 20,284 rec/s before and 22,355 during, with the replicator's process using 0.021
    // cores idle both before and during the outage (2026-12-03); inside the full suite the same
    // copy runs at about 5,800 rec/s, and one try in a CI run reached only 0.76. On 2026-12-06 a
    // CI run's best try reached 0.79 while librdkafka's "all broker connections are down" was
    // logged dozens of times a millisecond by the dead region's clients: repeats are now held
    // back (core/repeat-filter.ts), and samples are 40,000 records, long enough to ride out a burst.
    const running = replicator;
    const samples: string[] = [];
    const sample = async (phase: string): Promise<number> => {
      const rate = await backlogRate(running, a, 40_000);
      samples.push(`${phase} ${rate.toFixed(0)}`);
      return rate;
    };
    await sample('warm-up');
    const baseline = Math.max(await sample('before'), await sample('before'));
    const outageStart = Date.now();
    await clients.runtime.stop('ap-southeast/kafka');
    await expect.poll(() => replicator?.flow('ap-southeast', 'eu-west').status().state, { timeout: 30_000 }).toBe('unavailable');
    expect(replicator.flow('us-east', 'eu-west').status().state).toBe('running');
    let during = 0;
    for (let tries = 0; tries < 4 && during < 0.8 * baseline; tries++) during = Math.max(during, await sample('during'));
    console.log(`[isolation] us-east->eu-west backlog copy: ${baseline.toFixed(0)} rec/s before, ${during.toFixed(0)} rec/s while ap-southeast is down (ratio ${(during / baseline).toFixed(2)}); samples, rec/s: ${samples.join(', ')}`);
    expect(during).toBeGreaterThanOrEqual(0.8 * baseline);
    expect(replicator.flow('ap-southeast', 'eu-west').status().state).toBe('unavailable');

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)));
    await clients.runtime.start('ap-southeast/kafka');
    const after = await clients.producer('ap-southeast', { kafkaJS: { acks: -1, idempotent: true } });
    await after.send({ topic: b, messages: Array.from({ length: 500 }, (_, i) => ({ key: `b${i % 13}`, value: `after-${i}` })) });
    await expect.poll(() => replicator?.flow('ap-southeast', 'eu-west').status().state, { timeout: 60_000 }).toBe('running');

    const ends = await committedEnds(await clients.admin('ap-southeast'), b);
    const total = [...ends.values()].reduce((x, y) => x + y, 0);
    const copies = audit(await readAll(clients.kafka('eu-west'), `ap-southeast.${b}`, total, 60_000));
    expect(copies.duplicates).toEqual([]);
    expect(copies.outOfOrder).toEqual([]);
    for (const [p, end] of ends) expect(copies.byPartition.get(p)).toEqual(Array.from({ length: end }, (_, i) => i));
  }, 300_000);
});
